//! Leader election on a `coordination.k8s.io` Lease, fenced: the leader opens the AWS write
//! fence only until `renew deadline` after the start of its last successful renewal, and the
//! renew deadline is shorter than the lease duration. Another replica takes over only after it
//! has seen the same renewal time unchanged for a whole lease duration, by which time the old
//! leader's fence has closed, even if that leader was frozen (SIGSTOP, a long GC-like pause, a
//! partition) and does not know yet that it lost.
//!
//! Each renewal is a JSON patch that first tests the Lease's resourceVersion, so two replicas
//! can never both believe they renewed the same Lease.

use crate::aws::Fence;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tracing::{info, warn};

/// Why the leader settings cannot work.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error(
        "--renew-deadline ({renew:?}) must be shorter than --lease-duration ({lease:?}): a leader must stop writing before another can take over"
    )]
    Deadline { renew: Duration, lease: Duration },
}

/// One replica's candidacy for the Lease.
pub struct Elector {
    api: Api<Lease>,
    name: String,
    identity: String,
    lease: Duration,
    renew_deadline: Duration,
    fence: Fence,
}

/// The other holder's renewal as this replica first saw it: expiry is measured on this
/// replica's clock from that moment, never from the timestamps another clock wrote.
struct Seen {
    holder: Option<String>,
    renew_time: Option<String>,
    at: Instant,
}

impl Elector {
    pub fn new(
        api: Api<Lease>,
        name: &str,
        identity: &str,
        lease: Duration,
        renew_deadline: Duration,
        fence: Fence,
    ) -> Result<Elector, LeaderError> {
        if renew_deadline >= lease || renew_deadline.is_zero() {
            return Err(LeaderError::Deadline {
                renew: renew_deadline,
                lease,
            });
        }
        Ok(Elector {
            api,
            name: name.to_string(),
            identity: identity.to_string(),
            lease,
            renew_deadline,
            fence,
        })
    }

    /// How often to try to acquire or renew.
    fn retry_period(&self) -> Duration {
        (self.renew_deadline / 5).max(Duration::from_millis(100))
    }

    /// Campaigns for the Lease and keeps it: `leading` turns true when acquired, and false
    /// (and this function returns) once leadership is lost. The fence follows every renewal.
    pub async fn run(&self, leading: watch::Sender<bool>) {
        let mut seen: Option<Seen> = None;
        let mut last_renewal: Option<Instant> = None;
        loop {
            let start = Instant::now();
            match self.try_acquire_or_renew(&mut seen).await {
                Ok(true) => {
                    self.fence.open_until(start + self.renew_deadline);
                    if last_renewal.is_none() {
                        info!(identity = %self.identity, "acquired leadership");
                        leading.send_replace(true);
                    }
                    last_renewal = Some(start);
                }
                Ok(false) if last_renewal.is_some() => {
                    self.fence.close();
                    warn!(identity = %self.identity, "another replica holds the Lease now");
                    leading.send_replace(false);
                    return;
                }
                Ok(false) => {}
                Err(e) => {
                    warn!(error = %e, "could not acquire or renew the Lease");
                    if last_renewal.is_some_and(|t| t.elapsed() >= self.renew_deadline) {
                        self.fence.close();
                        warn!(identity = %self.identity, "could not renew the Lease in time");
                        leading.send_replace(false);
                        return;
                    }
                }
            }
            tokio::time::sleep(self.retry_period()).await;
        }
    }

    /// One attempt: `true` when this replica holds the Lease after it.
    async fn try_acquire_or_renew(&self, seen: &mut Option<Seen>) -> Result<bool, kube::Error> {
        let Some(lease) = self.api.get_opt(&self.name).await? else {
            return self.create().await;
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        if holder.as_deref() != Some(self.identity.as_str()) {
            let renew_time = spec.renew_time.as_ref().map(|t| t.0.to_string());
            let changed = seen
                .as_ref()
                .is_none_or(|s| s.holder != holder || s.renew_time != renew_time);
            if changed {
                *seen = Some(Seen {
                    holder: holder.clone(),
                    renew_time,
                    at: Instant::now(),
                });
            }
            let duration = spec
                .lease_duration_seconds
                .map(|s| Duration::from_secs(s.max(1) as u64))
                .unwrap_or(self.lease);
            let expired = seen.as_ref().is_some_and(|s| s.at.elapsed() >= duration);
            if holder.is_some() && !expired {
                return Ok(false);
            }
        }
        self.take(&lease, holder.as_deref() == Some(self.identity.as_str()))
            .await
    }

    fn spec(&self, acquire: Option<MicroTime>, transitions: i32) -> LeaseSpec {
        let now = MicroTime(Timestamp::now());
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(self.lease.as_secs().max(1) as i32),
            acquire_time: Some(acquire.unwrap_or_else(|| now.clone())),
            renew_time: Some(now),
            lease_transitions: Some(transitions),
            ..Default::default()
        }
    }

    async fn create(&self) -> Result<bool, kube::Error> {
        let mut lease = Lease::default();
        lease.metadata.name = Some(self.name.clone());
        lease.spec = Some(self.spec(None, 0));
        match self.api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Renews (`ours`) or takes over the Lease, only if nobody changed it since it was read.
    async fn take(&self, lease: &Lease, ours: bool) -> Result<bool, kube::Error> {
        let old = lease.spec.clone().unwrap_or_default();
        let transitions = old.lease_transitions.unwrap_or(0);
        let spec = if ours {
            self.spec(old.acquire_time, transitions)
        } else {
            self.spec(None, transitions.saturating_add(1))
        };
        let patch = serde_json::json!([
            {"op": "test", "path": "/metadata/resourceVersion", "value": lease.metadata.resource_version},
            {"op": "add", "path": "/spec", "value": spec},
        ]);
        let patch: json_patch::Patch = match serde_json::from_value(patch) {
            Ok(p) => p,
            Err(e) => return Err(kube::Error::SerdeError(e)),
        };
        let params = PatchParams::default();
        match self
            .api
            .patch(&self.name, &params, &Patch::<()>::Json(patch))
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if matches!(e.code, 409 | 422) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives the Lease up (on shutdown), so that a follower takes over without waiting: only
    /// if this replica still holds it.
    pub async fn release(&self) {
        self.fence.close();
        let patch = serde_json::json!([
            {"op": "test", "path": "/spec/holderIdentity", "value": self.identity},
            {"op": "remove", "path": "/spec/holderIdentity"},
        ]);
        let Ok(patch) = serde_json::from_value::<json_patch::Patch>(patch) else {
            return;
        };
        match self
            .api
            .patch(
                &self.name,
                &PatchParams::default(),
                &Patch::<()>::Json(patch),
            )
            .await
        {
            Ok(_) => info!(identity = %self.identity, "released the Lease"),
            Err(kube::Error::Api(e)) if matches!(e.code, 404 | 409 | 422) => {}
            Err(e) => warn!(error = %e, "could not release the Lease"),
        }
    }
}
