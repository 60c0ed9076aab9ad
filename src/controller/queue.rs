//! The work queue in front of the reconciles: one entry per resource, served by (lane, due
//! time), so that user changes go first and no resource waits behind later ones.
//!
//! kube-runtime's own runner parks due work in a hash set when its concurrency is used up and
//! takes the next item in hash order, so under sustained load some resources can be passed
//! over for ever. Here a resource due at `t` is served after, at most, the user work and the
//! resyncs due before `t`; resyncs are also spaced by the resync budget (see `budget`).

use crate::aws::Lane;
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// When a resource is due and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due {
    pub lane: Lane,
    pub at: Instant,
    /// A resync that reads targets and tags too (see `reads`), paced by their own budget.
    pub full: bool,
}

impl Due {
    /// The more urgent of two requests for the same resource: the user's lane wins, and the
    /// earlier time.
    fn merge(self, other: Due) -> Due {
        Due {
            lane: self.lane.min(other.lane),
            at: self.at.min(other.at),
            full: self.full || other.full,
        }
    }
}

type Slot = (Instant, u64, String);

/// A resource being reconciled: a request that arrived meanwhile runs after it.
#[derive(Debug)]
struct Running {
    /// The lane it was taken from (it holds one of that lane's workers).
    lane: Lane,
    again: Option<Due>,
    /// The resource was deleted meanwhile: its own requeue is dropped.
    gone: bool,
}

/// The queue's state; time is passed in, so it is tested without a clock.
#[derive(Debug)]
pub struct Queue {
    /// Each waiting resource's one entry: (due, sequence number).
    waiting: HashMap<String, (Due, u64)>,
    /// Waiting resources not yet due, by due time.
    later: BTreeSet<Slot>,
    /// Due resources by lane, each by due time.
    due: [BTreeSet<Slot>; 2],
    running: HashMap<String, Running>,
    seq: u64,
    /// Least time between two resyncs, and between two resyncs that read everything (the
    /// budget); when the next of each may start.
    spacing: Spacing,
    next_resync: Instant,
    next_full: Instant,
    /// Resyncs that may run at once: the other workers stay free for user work, so that a
    /// user's change never waits for a worker behind a backlog of resyncs.
    resync_workers: usize,
}

/// The workers resyncs may take out of `concurrency`: all but a quarter (at least one is kept
/// for user work when there are two or more).
pub fn resync_workers(concurrency: usize) -> usize {
    if concurrency <= 1 {
        1
    } else {
        concurrency - (concurrency / 4).max(1)
    }
}

/// The budget's pace of resyncs.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Spacing {
    /// Between two resyncs (each reads DescribeSecurityProfile).
    pub any: Duration,
    /// Between two resyncs that also read targets and tags.
    pub full: Duration,
}

impl Queue {
    pub fn new(spacing: Spacing, now: Instant) -> Queue {
        Queue {
            waiting: HashMap::new(),
            later: BTreeSet::new(),
            due: Default::default(),
            running: HashMap::new(),
            seq: 0,
            spacing,
            next_resync: now,
            next_full: now,
            resync_workers: usize::MAX,
        }
    }

    /// Lets at most `n` resyncs run at once (see [`resync_workers`]).
    pub fn with_resync_workers(mut self, n: usize) -> Queue {
        self.resync_workers = n.max(1);
        self
    }

    /// Asks for work on `key`; a resource already waiting keeps one entry, the more urgent.
    pub fn schedule(&mut self, key: &str, due: Due) {
        if let Some(running) = self.running.get_mut(key) {
            running.again = Some(running.again.map_or(due, |d| d.merge(due)));
            running.gone = false;
            return;
        }
        let due = match self.unlink(key) {
            Some(old) => old.merge(due),
            None => due,
        };
        self.seq += 1;
        self.waiting.insert(key.to_string(), (due, self.seq));
        self.later.insert((due.at, self.seq, key.to_string()));
    }

    /// Removes a waiting entry from the ordered sets and returns it.
    fn unlink(&mut self, key: &str) -> Option<Due> {
        let (due, seq) = self.waiting.remove(key)?;
        let slot = (due.at, seq, key.to_string());
        if !self.later.remove(&slot) {
            self.due[due.lane as usize].remove(&slot);
        }
        Some(due)
    }

    /// Moves the entries due at `now` to their lane.
    fn promote(&mut self, now: Instant) {
        while let Some(first) = self.later.first() {
            if first.0 > now {
                break;
            }
            let Some(slot) = self.later.pop_first() else {
                break;
            };
            if let Some((due, _)) = self.waiting.get(&slot.2) {
                self.due[due.lane as usize].insert(slot);
            }
        }
    }

    /// The next resource to reconcile and its lane, or when to look again (`None`: not before
    /// something is scheduled).
    pub fn pop(&mut self, now: Instant) -> Result<(String, Lane), Option<Instant>> {
        self.promote(now);
        // The first due resync waits for the budget (resyncs are served in due order, so a
        // full read is not overtaken by later partial ones).
        // At most `--concurrency` entries run: counting them is cheap and cannot drift.
        let resyncs = self.running.values().filter(|r| r.lane == Lane::Resync);
        let free = resyncs.count() < self.resync_workers;
        let resync_at = self.due[Lane::Resync as usize]
            .first()
            .filter(|_| free)
            .map(|(_, _, key)| {
                let full = self.waiting.get(key).is_some_and(|(d, _)| d.full);
                (
                    full,
                    if full {
                        self.next_resync.max(self.next_full)
                    } else {
                        self.next_resync
                    },
                )
            });
        let lane = if !self.due[Lane::User as usize].is_empty() {
            Lane::User
        } else if let Some((full, at)) = resync_at.filter(|(_, at)| *at <= now) {
            self.next_resync = now.max(at) + self.spacing.any;
            if full {
                self.next_full = now.max(at) + self.spacing.full;
            }
            Lane::Resync
        } else {
            let resync = resync_at.map(|(_, at)| at);
            let later = self.later.first().map(|s| s.0);
            return Err(match (resync, later) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            });
        };
        let Some((_, _, key)) = self.due[lane as usize].pop_first() else {
            return Err(None);
        };
        self.waiting.remove(&key);
        self.running.insert(
            key.clone(),
            Running {
                lane,
                again: None,
                gone: false,
            },
        );
        Ok((key, lane))
    }

    /// Ends the reconcile of `key`; `next` is the follow-up it asked for.
    pub fn done(&mut self, key: &str, next: Option<Due>) {
        let Some(running) = self.running.remove(key) else {
            return;
        };
        let next = if running.gone { None } else { next };
        let due = match (next, running.again) {
            (Some(a), Some(b)) => Some(a.merge(b)),
            (a, b) => a.or(b),
        };
        if let Some(due) = due {
            self.schedule(key, due);
        }
    }

    /// Drops everything about a deleted resource.
    pub fn forget(&mut self, key: &str) {
        self.unlink(key);
        if let Some(running) = self.running.get_mut(key) {
            running.again = None;
            running.gone = true;
        }
    }

    /// Resyncs that are due but not yet started (the budget's backlog).
    pub fn backlog(&self) -> usize {
        self.due[Lane::Resync as usize].len()
    }

    /// Resources waiting or running.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.waiting.len() + self.running.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The queue shared by the watch loop and the workers.
#[derive(Debug)]
pub struct SharedQueue {
    queue: Mutex<Queue>,
    changed: Notify,
}

impl SharedQueue {
    pub fn new(spacing: Spacing, resync_workers: usize) -> SharedQueue {
        SharedQueue {
            queue: Mutex::new(
                Queue::new(spacing, Instant::now()).with_resync_workers(resync_workers),
            ),
            changed: Notify::new(),
        }
    }

    /// Runs `f` on the queue and wakes the workers.
    pub fn with<T>(&self, f: impl FnOnce(&mut Queue) -> T) -> T {
        let out = {
            let mut q = match self.queue.lock() {
                Ok(q) => q,
                Err(poisoned) => poisoned.into_inner(),
            };
            f(&mut q)
        };
        self.changed.notify_waiters();
        out
    }

    /// Waits for the next resource to reconcile.
    pub async fn next(&self) -> (String, Lane) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let wake = {
                let mut q = match self.queue.lock() {
                    Ok(q) => q,
                    Err(poisoned) => poisoned.into_inner(),
                };
                match q.pop(Instant::now()) {
                    Ok(next) => return next,
                    Err(wake) => wake,
                }
            };
            match wake {
                Some(at) => tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = changed => {}
                },
                None => changed.await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(lane: Lane, at: Instant) -> Due {
        Due {
            lane,
            at,
            full: false,
        }
    }

    fn every(any: Duration) -> Spacing {
        Spacing {
            any,
            full: Duration::ZERO,
        }
    }

    fn drain(q: &mut Queue, now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok((key, _)) = q.pop(now) {
            q.done(&key, None);
            out.push(key);
        }
        out
    }

    #[test]
    fn user_work_first_then_resyncs_by_due_time() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut q = Queue::new(Spacing::default(), t0);
        q.schedule("r3", due(Lane::Resync, t0 + s(3)));
        q.schedule("r1", due(Lane::Resync, t0 + s(1)));
        q.schedule("u2", due(Lane::User, t0 + s(2)));
        q.schedule("r2", due(Lane::Resync, t0 + s(2)));
        q.schedule("u1", due(Lane::User, t0 + s(1)));
        q.schedule("later", due(Lane::User, t0 + s(60)));
        assert_eq!(drain(&mut q, t0 + s(5)), ["u1", "u2", "r1", "r2", "r3"]);
        assert_eq!(q.pop(t0 + s(5)), Err(Some(t0 + s(60))));
    }

    #[test]
    fn one_entry_per_resource_the_more_urgent() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut q = Queue::new(Spacing::default(), t0);
        q.schedule("a", due(Lane::Resync, t0 + s(600)));
        q.schedule("b", due(Lane::Resync, t0 + s(1)));
        // An edit of `a` turns its far resync into user work now.
        q.schedule("a", due(Lane::User, t0));
        q.schedule("a", due(Lane::Resync, t0 + s(900)));
        assert_eq!(q.len(), 2);
        assert_eq!(drain(&mut q, t0 + s(2)), ["a", "b"]);
        assert!(q.is_empty());
    }

    #[test]
    fn work_arriving_during_a_reconcile_runs_after_it() {
        let t0 = Instant::now();
        let mut q = Queue::new(Spacing::default(), t0);
        q.schedule("a", due(Lane::Resync, t0));
        assert_eq!(q.pop(t0), Ok(("a".into(), Lane::Resync)));
        // Not served twice at once.
        q.schedule("a", due(Lane::User, t0));
        assert_eq!(q.pop(t0), Err(None));
        q.done("a", Some(due(Lane::Resync, t0 + Duration::from_secs(600))));
        assert_eq!(q.pop(t0), Ok(("a".into(), Lane::User)));
    }

    #[test]
    fn resyncs_are_spaced_by_the_budget_user_work_is_not() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut q = Queue::new(every(ms(100)), t0);
        for k in ["r1", "r2", "r3"] {
            q.schedule(k, due(Lane::Resync, t0));
        }
        assert_eq!(q.pop(t0), Ok(("r1".into(), Lane::Resync)));
        assert_eq!(q.pop(t0), Err(Some(t0 + ms(100))));
        assert_eq!(q.backlog(), 2);
        q.schedule("u", due(Lane::User, t0));
        assert_eq!(q.pop(t0), Ok(("u".into(), Lane::User)));
        assert_eq!(q.pop(t0 + ms(100)), Ok(("r2".into(), Lane::Resync)));
        assert_eq!(q.pop(t0 + ms(150)), Err(Some(t0 + ms(200))));
        assert_eq!(q.pop(t0 + ms(200)), Ok(("r3".into(), Lane::Resync)));
        assert_eq!(q.backlog(), 0);
    }

    #[test]
    fn full_reads_have_their_own_pace() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut q = Queue::new(
            Spacing {
                any: ms(100),
                full: ms(300),
            },
            t0,
        );
        for (k, full) in [("f1", true), ("p1", false), ("f2", true), ("p2", false)] {
            q.schedule(
                k,
                Due {
                    full,
                    ..due(Lane::Resync, t0)
                },
            );
        }
        assert_eq!(q.pop(t0), Ok(("f1".into(), Lane::Resync)));
        assert_eq!(q.pop(t0 + ms(100)), Ok(("p1".into(), Lane::Resync)));
        // f2 waits for the full-read pace, and p2 behind it (due order is kept).
        assert_eq!(q.pop(t0 + ms(200)), Err(Some(t0 + ms(300))));
        assert_eq!(q.pop(t0 + ms(300)), Ok(("f2".into(), Lane::Resync)));
        assert_eq!(q.pop(t0 + ms(400)), Ok(("p2".into(), Lane::Resync)));
    }

    #[test]
    fn no_resource_is_passed_over_under_overload() {
        // 100 resources resynced far more often than the budget allows: every one of them is
        // still served, in turn, and an edit jumps the backlog.
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut q = Queue::new(every(ms(10)), t0);
        for i in 0..100 {
            q.schedule(&format!("r{i}"), due(Lane::Resync, t0));
        }
        let mut now = t0;
        let mut served = HashMap::<String, u32>::new();
        for step in 0..3000u32 {
            now += ms(10);
            if step == 1500 {
                q.schedule("r42", due(Lane::User, now));
            }
            if let Ok((key, lane)) = q.pop(now) {
                if step == 1500 {
                    assert_eq!((key.as_str(), lane), ("r42", Lane::User));
                }
                *served.entry(key.clone()).or_default() += 1;
                // Each asks to be resynced again 100 ms later: 10x the budget.
                q.done(&key, Some(due(Lane::Resync, now + ms(100))));
            }
        }
        assert_eq!(served.len(), 100);
        let (lo, hi) = (served.values().min(), served.values().max());
        assert!(hi.unwrap() - lo.unwrap() <= 2, "{served:?}");
    }

    #[test]
    fn resyncs_leave_workers_free_for_user_work() {
        let t0 = Instant::now();
        assert_eq!([1, 2, 3, 4, 8, 16].map(resync_workers), [1, 1, 2, 3, 6, 12]);
        let mut q = Queue::new(Spacing::default(), t0).with_resync_workers(2);
        for k in ["r1", "r2", "r3"] {
            q.schedule(k, due(Lane::Resync, t0));
        }
        assert_eq!(q.pop(t0), Ok(("r1".into(), Lane::Resync)));
        assert_eq!(q.pop(t0), Ok(("r2".into(), Lane::Resync)));
        // Two resyncs run: the third waits, though a worker may be free.
        assert_eq!(q.pop(t0), Err(None));
        // User work still gets a worker.
        q.schedule("u", due(Lane::User, t0));
        assert_eq!(q.pop(t0), Ok(("u".into(), Lane::User)));
        q.done("u", None);
        q.done("r1", None);
        assert_eq!(q.pop(t0), Ok(("r3".into(), Lane::Resync)));
        // A resync deleted while it runs gives its worker back.
        q.forget("r2");
        q.done("r2", None);
        q.done("r3", None);
        q.schedule("r4", due(Lane::Resync, t0));
        assert_eq!(q.pop(t0), Ok(("r4".into(), Lane::Resync)));
    }

    #[test]
    fn a_deleted_resource_is_forgotten_even_while_running() {
        let t0 = Instant::now();
        let mut q = Queue::new(Spacing::default(), t0);
        q.schedule("a", due(Lane::Resync, t0));
        q.schedule("b", due(Lane::Resync, t0));
        q.forget("b");
        assert_eq!(q.pop(t0), Ok(("a".into(), Lane::Resync)));
        q.forget("a");
        q.done("a", Some(due(Lane::Resync, t0)));
        assert!(q.is_empty());
        assert_eq!(q.pop(t0), Err(None));
    }
}
