//! Client-side rate limiting: AWS quotas are per account, region and API operation, so the
//! operator spaces its own calls to each (account, region, operation) instead of letting the
//! service answer ThrottlingException and the SDK retry.
//!
//! Each key has two lanes: calls made for a user's change ([`Lane::User`]) go before calls of
//! periodic resyncs ([`Lane::Resync`]) waiting for the same key, so that an edit waits only for
//! its own calls however many resyncs are queued. The lane is the one of the task making the
//! call (see [`in_lane`]); calls outside any lane count as user work. A task's lane can be
//! raised while it runs ([`LaneCell::promote`]): a resync under way when a user changes the
//! same resource then finishes in the user lane, since the user's change waits for it.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// The account of the operator's own credentials (until calls are made for other accounts).
pub const OWN_ACCOUNT: &str = "self";

/// AWS IoT Device Defender quotas in calls per second (AWS General Reference, "AWS IoT Device
/// Defender endpoints and quotas"; not adjustable), the tagging operations taken as 10/s.
/// They are the defaults of `--aws-tps`.
pub const DOCUMENTED_QUOTAS: &[(&str, f64)] = &[
    ("CreateSecurityProfile", 10.0),
    ("UpdateSecurityProfile", 10.0),
    ("DeleteSecurityProfile", 10.0),
    ("AttachSecurityProfile", 10.0),
    ("DetachSecurityProfile", 10.0),
    ("ListTargetsForSecurityProfile", 10.0),
    ("ListSecurityProfiles", 10.0),
    // No separate figure is documented for it: 10/s, like the other List operations.
    ("ListActiveViolations", 10.0),
    ("ValidateSecurityProfileBehaviors", 10.0),
    ("TagResource", 10.0),
    ("UntagResource", 10.0),
    ("ListTagsForResource", 10.0),
    ("DescribeSecurityProfile", 25.0),
];

/// Why a call is made, which decides its place in the queue of its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lane {
    /// A change made by a user (new resource, spec edit, deletion, annotation change).
    User = 0,
    /// A periodic resync.
    Resync = 1,
}

/// The lane of one task's calls, shared with whoever may raise it while the task runs.
#[derive(Debug)]
pub struct LaneCell {
    lane: AtomicU8,
    /// Wakes the task's call waiting at the pacer, so that it changes lanes at once.
    raised: Notify,
}

impl LaneCell {
    pub fn new(lane: Lane) -> Arc<LaneCell> {
        Arc::new(LaneCell {
            lane: AtomicU8::new(lane as u8),
            raised: Notify::new(),
        })
    }

    pub fn get(&self) -> Lane {
        match self.lane.load(Ordering::Relaxed) {
            0 => Lane::User,
            _ => Lane::Resync,
        }
    }

    /// Moves the task's next calls (and the one waiting at the pacer) to the user lane;
    /// returns whether it was in the resync lane.
    pub fn promote(&self) -> bool {
        let was = self.lane.swap(Lane::User as u8, Ordering::Relaxed);
        self.raised.notify_waiters();
        was != Lane::User as u8
    }
}

tokio::task_local! {
    static LANE: Arc<LaneCell>;
}

/// Runs `f` with its AWS calls in `lane`.
pub fn in_lane<F: Future>(lane: Lane, f: F) -> impl Future<Output = F::Output> {
    LANE.scope(LaneCell::new(lane), f)
}

/// Runs `f` with its AWS calls in the lane `cell` holds at each call.
pub fn in_shared_lane<F: Future>(cell: Arc<LaneCell>, f: F) -> impl Future<Output = F::Output> {
    LANE.scope(cell, f)
}

/// The lane of the current task (user work when none was set).
pub fn current_lane() -> Lane {
    LANE.try_with(|l| l.get()).unwrap_or(Lane::User)
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    account: String,
    region: String,
    operation: &'static str,
}

/// The calls waiting for one key, by lane, and when its next call may start.
#[derive(Debug)]
struct Line {
    next: Instant,
    waiting: [VecDeque<u64>; 2],
}

impl Line {
    fn head(&self) -> Option<u64> {
        self.waiting.iter().find_map(|q| q.front().copied())
    }
}

/// Paces calls to at most the configured rate per (account, region, operation).
#[derive(Debug, Default)]
pub struct Pacer {
    /// Calls per second by operation name; `*` applies to every operation not named, else the
    /// documented quota applies.
    rates: HashMap<String, f64>,
    lines: Mutex<HashMap<Key, Line>>,
    /// Wakes waiters when a call started or gave up its place.
    turn: Notify,
    tickets: AtomicU64,
}

impl Pacer {
    pub fn new(rates: &[(String, f64)]) -> Pacer {
        Pacer {
            rates: rates.iter().filter(|(_, r)| *r > 0.0).cloned().collect(),
            ..Pacer::default()
        }
    }

    /// The calls per second allowed to `operation`: `--aws-tps` for it, else `--aws-tps *=N`,
    /// else AWS's documented quota.
    pub fn rate(&self, operation: &str) -> Option<f64> {
        self.rates
            .get(operation)
            .or_else(|| self.rates.get("*"))
            .copied()
            .or_else(|| {
                DOCUMENTED_QUOTAS
                    .iter()
                    .find(|(op, _)| *op == operation)
                    .map(|(_, r)| *r)
            })
    }

    fn lines(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Line>> {
        match self.lines.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Waits for this call's turn in the operator's own account.
    pub async fn wait(&self, region: &str, operation: &'static str) {
        self.wait_for(OWN_ACCOUNT, region, operation).await
    }

    /// Waits for this call's turn: after every earlier call of its lane and every user call
    /// of this key, and one interval after the previous call of the key.
    pub async fn wait_for(&self, account: &str, region: &str, operation: &'static str) {
        let Some(rate) = self.rate(operation) else {
            return;
        };
        let interval = Duration::from_secs_f64(1.0 / rate);
        let key = Key {
            account: account.to_string(),
            region: region.to_string(),
            operation,
        };
        let cell = LANE.try_with(|c| c.clone()).ok();
        let lane = current_lane() as usize;
        let ticket = self.tickets.fetch_add(1, Ordering::Relaxed);
        self.lines()
            .entry(key.clone())
            .or_insert_with(|| Line {
                next: Instant::now(),
                waiting: Default::default(),
            })
            .waiting[lane]
            .push_back(ticket);
        let mut place = Place {
            pacer: self,
            key: &key,
            lane,
            ticket,
            queued: true,
        };
        loop {
            let notified = self.turn.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let raised = cell.as_ref().map(|c| c.raised.notified());
            tokio::pin!(raised);
            if let Some(r) = raised.as_mut().as_pin_mut() {
                r.enable();
            }
            // A promoted task moves to the user lane (its cell wakes it for that).
            place.follow(current_lane() as usize);
            let at = match place.try_start(interval) {
                Ok(()) => return,
                Err(at) => at,
            };
            let sleep = async {
                match at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = sleep => {}
                _ = notified => {}
                _ = async {
                    match raised.as_mut().as_pin_mut() {
                        Some(r) => r.await,
                        None => std::future::pending().await,
                    }
                } => {}
            }
        }
    }
}

/// A call's place in its line; leaves the line when the call is dropped while waiting.
struct Place<'a> {
    pacer: &'a Pacer,
    key: &'a Key,
    lane: usize,
    ticket: u64,
    queued: bool,
}

impl Place<'_> {
    /// Moves the call to `lane`, keeping its order by ticket among that lane's calls.
    fn follow(&mut self, lane: usize) {
        if lane == self.lane || !self.queued {
            return;
        }
        let mut lines = self.pacer.lines();
        let Some(line) = lines.get_mut(self.key) else {
            return;
        };
        line.waiting[self.lane].retain(|t| *t != self.ticket);
        let to = &mut line.waiting[lane];
        let at = to.partition_point(|t| *t < self.ticket);
        to.insert(at, self.ticket);
        self.lane = lane;
    }

    /// Starts the call if it is first in line and the key's interval has passed; else says
    /// until when to wait (`None`: until another call starts).
    fn try_start(&mut self, interval: Duration) -> Result<(), Option<Instant>> {
        let mut lines = self.pacer.lines();
        let Some(line) = lines.get_mut(self.key) else {
            return Ok(());
        };
        if line.head() != Some(self.ticket) {
            return Err(None);
        }
        let now = Instant::now();
        if line.next > now {
            return Err(Some(line.next));
        }
        line.waiting[self.lane].pop_front();
        line.next = now + interval;
        self.queued = false;
        drop(lines);
        self.pacer.turn.notify_waiters();
        Ok(())
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        if self.queued {
            if let Some(line) = self.pacer.lines().get_mut(self.key) {
                line.waiting[self.lane].retain(|t| *t != self.ticket);
            }
            self.pacer.turn.notify_waiters();
        }
    }
}

/// Parses `OPERATION=N` or `*=N` (calls per second).
pub fn parse_rate(s: &str) -> Result<(String, f64), String> {
    let (op, n) = s
        .split_once('=')
        .ok_or_else(|| format!("expected OPERATION=N or *=N, got {s:?}"))?;
    let n: f64 = n
        .trim()
        .parse()
        .map_err(|_| format!("invalid rate in {s:?}"))?;
    if !(n.is_finite() && n > 0.0) {
        return Err(format!("the rate in {s:?} must be a positive number"));
    }
    // The pacer spaces calls by 1/N seconds: keep that interval representable and sane.
    if !(MIN_RATE..=MAX_RATE).contains(&n) {
        return Err(format!(
            "the rate in {s:?} must be between {MIN_RATE} and {MAX_RATE} calls per second"
        ));
    }
    Ok((op.trim().to_string(), n))
}

/// The slowest rate `--aws-tps` takes: one call every ~17 minutes.
pub const MIN_RATE: f64 = 0.001;
/// The fastest rate `--aws-tps` takes (far above any AWS quota).
pub const MAX_RATE: f64 = 1_000_000.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_that_would_overflow_the_spacing_are_rejected() {
        assert!(parse_rate("*=1e-300").is_err());
        assert!(parse_rate("*=1e300").is_err());
        assert!(parse_rate("*=inf").is_err());
        assert!(parse_rate("*=0").is_err());
        assert_eq!(parse_rate("CreateSecurityProfile=0.2").unwrap().1, 0.2);
    }

    /// Starts the calls in the given order (each queued before the next) and returns the order
    /// in which they were let through, as "index:lane".
    async fn order(p: &Arc<Pacer>, calls: Vec<(Lane, &'static str)>) -> Vec<String> {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (i, (lane, op)) in calls.into_iter().enumerate() {
            let (p, log) = (p.clone(), log.clone());
            tasks.push(tokio::spawn(in_lane(lane, async move {
                p.wait_for("a", "r", op).await;
                log.lock().unwrap().push(format!("{i}:{lane:?}"));
            })));
            // On this single-threaded runtime the task queues its call before this yields back.
            tokio::task::yield_now().await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        Arc::try_unwrap(log).unwrap().into_inner().unwrap()
    }

    #[tokio::test]
    async fn user_calls_go_before_waiting_resyncs() {
        let p = Arc::new(Pacer::new(&[("*".into(), 100.0)]));
        let op = "ListTargetsForSecurityProfile";
        let mut calls = vec![(Lane::Resync, op); 5];
        calls.push((Lane::User, op));
        calls.push((Lane::User, op));
        let t0 = Instant::now();
        let order = order(&p, calls).await;
        // The first resync had the key free; both user calls overtake the four waiting.
        assert_eq!(
            order,
            [
                "0:Resync", "5:User", "6:User", "1:Resync", "2:Resync", "3:Resync", "4:Resync"
            ]
        );
        // Seven calls at 100/s: the last one 60 ms after the first, at least.
        assert!(t0.elapsed() >= Duration::from_millis(60));
    }

    #[tokio::test]
    async fn a_promoted_resync_overtakes_the_resyncs_waiting_before_it() {
        let p = Arc::new(Pacer::new(&[("*".into(), 100.0)]));
        let op = "DescribeSecurityProfile";
        let log = Arc::new(Mutex::new(Vec::new()));
        let cell = LaneCell::new(Lane::Resync);
        let mut tasks = Vec::new();
        for i in 0..4 {
            let (p, log) = (p.clone(), log.clone());
            // The last resync's lane is shared with the test, which promotes it while it waits.
            let cell = if i == 3 {
                cell.clone()
            } else {
                LaneCell::new(Lane::Resync)
            };
            tasks.push(tokio::spawn(in_shared_lane(cell, async move {
                p.wait_for("a", "r", op).await;
                log.lock().unwrap().push(i);
            })));
            tokio::task::yield_now().await;
        }
        assert!(cell.promote(), "it was a resync");
        assert!(!cell.promote(), "promoting twice changes nothing");
        for t in tasks {
            t.await.unwrap();
        }
        // Resync 0 had the key free; the promoted one (3) goes before 1 and 2.
        assert_eq!(*log.lock().unwrap(), [0, 3, 1, 2]);
    }

    #[tokio::test]
    async fn calls_are_spaced_per_account_region_and_operation() {
        let p = Pacer::new(&[("*".into(), 1.0), ("TagResource".into(), 20.0)]);
        let op = "DescribeSecurityProfile";
        let t0 = Instant::now();
        p.wait_for("a", "us-east-1", op).await;
        // Another account, region or operation has its own quota: no wait for a 1/s key.
        p.wait_for("b", "us-east-1", op).await;
        p.wait_for("a", "eu-west-1", op).await;
        p.wait_for("a", "us-east-1", "ListTagsForResource").await;
        assert!(
            t0.elapsed() < Duration::from_millis(900),
            "{:?}",
            t0.elapsed()
        );
        // The same key waits its interval.
        p.wait_for("a", "us-east-1", op).await;
        assert!(t0.elapsed() >= Duration::from_secs(1));
        let t1 = Instant::now();
        for _ in 0..3 {
            p.wait_for("a", "us-east-1", "TagResource").await;
        }
        assert!(t1.elapsed() >= Duration::from_millis(100));
    }

    #[tokio::test]
    async fn a_dropped_call_gives_up_its_place() {
        let p = Arc::new(Pacer::new(&[("*".into(), 20.0)]));
        p.wait("r", "TagResource").await;
        let waiting = {
            let p = p.clone();
            tokio::spawn(async move { p.wait("r", "TagResource").await })
        };
        tokio::task::yield_now().await;
        waiting.abort();
        let _ = waiting.await;
        // Had the aborted call kept its place, this one would never be first in line.
        tokio::time::timeout(Duration::from_secs(10), p.wait("r", "TagResource"))
            .await
            .expect("the next call is let through");
        assert!(p.lines().values().all(|l| l.head().is_none()));
    }

    #[test]
    fn documented_quotas_are_the_default_and_star_overrides_them() {
        let p = Pacer::new(&[]);
        assert_eq!(p.rate("DescribeSecurityProfile"), Some(25.0));
        assert_eq!(p.rate("ListTargetsForSecurityProfile"), Some(10.0));
        assert_eq!(p.rate("TagResource"), Some(10.0));
        assert_eq!(p.rate("AssumeRole"), None);
        let p = Pacer::new(&[("*".into(), 50.0), ("AttachSecurityProfile".into(), 2.0)]);
        assert_eq!(p.rate("DescribeSecurityProfile"), Some(50.0));
        assert_eq!(p.rate("AttachSecurityProfile"), Some(2.0));
        let p = Pacer::new(&[("AttachSecurityProfile".into(), 2.0)]);
        assert_eq!(p.rate("DescribeSecurityProfile"), Some(25.0));
    }

    #[test]
    fn rates_parse() {
        assert_eq!(parse_rate("*=50").unwrap(), ("*".to_string(), 50.0));
        assert_eq!(parse_rate("AttachSecurityProfile=2.5").unwrap().1, 2.5);
        assert!(parse_rate("50").is_err());
        assert!(parse_rate("*=0").is_err());
    }
}
