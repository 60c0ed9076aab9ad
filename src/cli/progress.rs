//! A progress bar on stderr, drawn only when stderr is a terminal (logs and CI stay clean).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts finished items out of a total and redraws one line.
pub struct Progress {
    total: AtomicUsize,
    done: AtomicUsize,
    enabled: bool,
}

const WIDTH: usize = 30;

impl Progress {
    /// Drawn when stderr is a terminal.
    pub fn on_terminal() -> Progress {
        Progress::new(std::io::stderr().is_terminal())
    }

    /// Never drawn.
    pub fn hidden() -> Progress {
        Progress::new(false)
    }

    fn new(enabled: bool) -> Progress {
        Progress {
            total: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            enabled,
        }
    }

    pub fn start(&self, total: usize) {
        self.total.store(total, Ordering::Relaxed);
        self.draw(0);
    }

    pub fn inc(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        self.draw(done);
    }

    /// Ends the line so that what follows starts on its own.
    pub fn finish(&self) {
        if self.enabled {
            eprintln!();
        }
    }

    fn draw(&self, done: usize) {
        if !self.enabled {
            return;
        }
        let total = self.total.load(Ordering::Relaxed).max(1);
        let filled = (done * WIDTH / total).min(WIDTH);
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r[{}{}] {done}/{} profiles",
            "#".repeat(filled),
            ".".repeat(WIDTH - filled),
            self.total.load(Ordering::Relaxed)
        );
        let _ = err.flush();
    }
}
