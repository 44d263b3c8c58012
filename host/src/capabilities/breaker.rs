//! A circuit breaker per panel: after enough partner failures in a row, calls fail at once
//! instead of hammering a dead partner, and one trial call after a cool-down finds out whether
//! it is back.

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Breaker {
    /// Failures in a row that open the circuit; 0 never opens it.
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
    /// Half-open: the one trial call is out.
    trial: bool,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Breaker {
        Breaker {
            threshold,
            cooldown,
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// May a call go to the partner now? `Err` says why not.
    pub fn admit(&self) -> Result<(), String> {
        let mut s = self.lock();
        match s.open_until {
            None => Ok(()),
            Some(until) if Instant::now() < until => Err(format!(
                "circuit open after {} partner failures in a row; next try in {} ms",
                s.failures,
                until.saturating_duration_since(Instant::now()).as_millis()
            )),
            Some(_) if s.trial => Err("circuit half-open: a trial call to the partner is under way".into()),
            Some(_) => {
                s.trial = true;
                Ok(())
            }
        }
    }

    /// What an admitted call came to: `failed` when the partner was unreachable, timed out,
    /// or answered 5xx.
    pub fn record(&self, failed: bool) {
        let mut s = self.lock();
        s.trial = false;
        if !failed {
            s.failures = 0;
            s.open_until = None;
            return;
        }
        s.failures = s.failures.saturating_add(1);
        if self.threshold > 0 && s.failures >= self.threshold {
            if s.open_until.is_none() {
                tracing::warn!(failures = s.failures, "partner circuit opened");
            }
            s.open_until = Some(Instant::now() + self.cooldown);
        }
    }

    /// `closed`, `open` or `half-open`, for operators.
    pub fn state(&self) -> &'static str {
        let s = self.lock();
        match s.open_until {
            None => "closed",
            Some(until) if Instant::now() < until => "open",
            Some(_) => "half-open",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_closes_after_a_good_trial() {
        let b = Breaker::new(3, Duration::from_millis(30));
        for _ in 0..2 {
            assert!(b.admit().is_ok());
            b.record(true);
        }
        assert_eq!(b.state(), "closed");
        assert!(b.admit().is_ok());
        b.record(true);
        assert_eq!(b.state(), "open");
        assert!(b.admit().unwrap_err().contains("3 partner failures"));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(b.state(), "half-open");
        assert!(b.admit().is_ok(), "one trial");
        assert!(b.admit().is_err(), "only one");
        b.record(true);
        assert_eq!(b.state(), "open", "a failed trial opens it again");
        std::thread::sleep(Duration::from_millis(40));
        assert!(b.admit().is_ok());
        b.record(false);
        assert_eq!(b.state(), "closed");
        assert!(b.admit().is_ok());
    }
}
