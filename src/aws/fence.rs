//! The write fence: a leader that cannot prove it still holds its Lease stops writing to AWS
//! before another replica could take over, so two processes never write at once.

use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Whether AWS writes are allowed now. Unfenced (no leader election) always allows them; a
/// leased fence allows them until the deadline its last Lease renewal earned.
#[derive(Clone, Debug, Default)]
pub struct Fence(Option<Arc<Mutex<Option<Instant>>>>);

impl Fence {
    /// A fence that never closes (a single replica without leader election).
    pub fn unfenced() -> Fence {
        Fence(None)
    }

    /// A fence that is closed until [`Fence::open_until`] is called.
    pub fn leased() -> Fence {
        Fence(Some(Arc::new(Mutex::new(None))))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Option<Instant>) -> T) -> Option<T> {
        let cell = self.0.as_ref()?;
        let mut guard = match cell.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        Some(f(&mut guard))
    }

    /// Allows writes until `deadline` (a renewal's start plus the renew deadline).
    pub fn open_until(&self, deadline: Instant) {
        self.with(|d| *d = Some(deadline));
    }

    /// Stops every write now (leadership lost or given up).
    pub fn close(&self) {
        self.with(|d| *d = None);
    }

    /// Whether a write may start now.
    pub fn is_open(&self) -> bool {
        self.with(|d| d.is_some_and(|d| Instant::now() < d))
            .unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn unfenced_is_always_open_and_leased_opens_only_until_its_deadline() {
        assert!(Fence::unfenced().is_open());
        let f = Fence::leased();
        assert!(!f.is_open());
        f.open_until(Instant::now() + Duration::from_secs(60));
        assert!(f.is_open());
        f.open_until(Instant::now() - Duration::from_millis(1));
        assert!(!f.is_open());
        f.open_until(Instant::now() + Duration::from_secs(60));
        f.close();
        assert!(!f.is_open());
    }
}
