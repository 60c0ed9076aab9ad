//! Follows the SecurityProfiles with a watch, so that phases end the moment the last resource
//! is Ready (or gone) and the writes to them are counted without polling the API.

use futures::StreamExt;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::watcher::{self, Event};
use securityprofile_operator::api::SecurityProfile;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// What the bench needs to know about one resource.
#[derive(Clone, Debug)]
pub struct Entry {
    pub resource_version: String,
    pub observed_generation: i64,
    pub ready: bool,
    pub synced: bool,
    pub synced_reason: String,
}

impl Entry {
    fn of(sp: &SecurityProfile) -> Entry {
        let status = sp.status.as_ref();
        let cond = |t: &str| {
            status
                .and_then(|s| s.conditions.as_ref())
                .and_then(|cs| cs.iter().find(|c| c.type_ == t))
        };
        Entry {
            resource_version: sp.resource_version().unwrap_or_default(),
            observed_generation: status.and_then(|s| s.observed_generation).unwrap_or(0),
            ready: cond("Ready").is_some_and(|c| c.status == "True"),
            synced: cond("Synced").is_some_and(|c| c.status == "True"),
            synced_reason: cond("Synced")
                .map(|c| c.reason.clone())
                .unwrap_or_else(|| "NoStatus".into()),
        }
    }

    /// Reconciled at `generation` or later, Ready and Synced.
    pub fn converged_at(&self, generation: i64) -> bool {
        self.observed_generation >= generation && self.ready && self.synced
    }
}

/// The watched state.
#[derive(Default)]
pub struct State {
    pub objects: HashMap<String, Entry>,
    /// Changes seen to SecurityProfile objects (a new resourceVersion of an existing object).
    pub modifications: u64,
    /// Relists of the watch (each one may hide modifications).
    pub relists: u64,
    init: Option<HashMap<String, Entry>>,
}

impl State {
    fn upsert(&mut self, sp: &SecurityProfile) {
        let entry = Entry::of(sp);
        if let Some(old) = self.objects.get(&sp.name_any())
            && old.resource_version != entry.resource_version
        {
            self.modifications += 1;
        }
        self.objects.insert(sp.name_any(), entry);
    }

    /// How many resources have each Synced reason (for failure reports).
    pub fn reasons(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for e in self.objects.values() {
            let key = if e.ready {
                format!("Ready/{}", e.synced_reason)
            } else {
                format!("NotReady/{}", e.synced_reason)
            };
            *out.entry(key).or_insert(0) += 1;
        }
        out
    }
}

/// A running watch over one namespace's SecurityProfiles.
pub struct Tracker {
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Tracker {
    pub fn start(api: Api<SecurityProfile>) -> Tracker {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            let mut stream = watcher::watcher(api, watcher::Config::default()).boxed();
            while let Some(event) = stream.next().await {
                let Ok(event) = event else { continue };
                let mut s = lock(&shared);
                match event {
                    Event::Apply(sp) => s.upsert(&sp),
                    Event::Delete(sp) => {
                        s.objects.remove(&sp.name_any());
                    }
                    Event::Init => {
                        s.relists += 1;
                        s.init = Some(HashMap::new());
                    }
                    Event::InitApply(sp) => {
                        let entry = Entry::of(&sp);
                        if s.objects
                            .get(&sp.name_any())
                            .is_some_and(|old| old.resource_version != entry.resource_version)
                        {
                            s.modifications += 1;
                        }
                        if let Some(init) = s.init.as_mut() {
                            init.insert(sp.name_any(), entry);
                        }
                    }
                    Event::InitDone => {
                        if let Some(init) = s.init.take() {
                            s.objects = init;
                        }
                    }
                }
            }
        });
        Tracker { state, task }
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Polls every 50 ms until `done` holds; returns when it did, or None after `timeout`.
    pub async fn wait(&self, timeout: Duration, done: impl Fn(&State) -> bool) -> Option<Instant> {
        let start = Instant::now();
        loop {
            if done(&self.state()) {
                return Some(Instant::now());
            }
            if start.elapsed() > timeout {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}
