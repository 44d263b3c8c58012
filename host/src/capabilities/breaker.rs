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

    /// May a call go to the partner now? `Err` says why not; `Ok` is the call's admission, to
    /// `record` its outcome with.
    pub fn admit(&self) -> Result<Admitted<'_>, String> {
        let trial = self.open_for_call()?;
        Ok(Admitted {
            breaker: self,
            trial,
            recorded: false,
        })
    }

    /// `Ok(true)`: the call is the half-open circuit's trial.
    fn open_for_call(&self) -> Result<bool, String> {
        let mut s = self.lock();
        match s.open_until {
            None => Ok(false),
            Some(until) if Instant::now() < until => Err(format!(
                "circuit open after {} partner failures in a row; next try in {} ms",
                s.failures,
                until.saturating_duration_since(Instant::now()).as_millis()
            )),
            Some(_) if s.trial => Err("circuit half-open: a trial call to the partner is under way".into()),
            Some(_) => {
                s.trial = true;
                Ok(true)
            }
        }
    }

    /// `trial`: the call was the half-open circuit's trial, which it now ends (another call,
    /// admitted before the circuit opened and ending late, leaves a trial under way alone).
    fn record(&self, failed: bool, trial: bool) {
        let mut s = self.lock();
        if trial {
            s.trial = false;
        }
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

/// A call the breaker let through. Dropped without its outcome (its future dropped: the
/// operation's deadline, the caller gone), it lets a half-open circuit's trial go, so that the
/// next call may try; before, the circuit stayed half-open with no trial under way, refusing
/// every call until a restart.
#[must_use = "record the call's outcome"]
pub struct Admitted<'a> {
    breaker: &'a Breaker,
    trial: bool,
    recorded: bool,
}

impl Admitted<'_> {
    /// What the call came to: `failed` when the partner was unreachable, timed out, or
    /// answered 5xx.
    pub fn record(mut self, failed: bool) {
        self.recorded = true;
        self.breaker.record(failed, self.trial);
    }
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        if self.trial && !self.recorded {
            self.breaker.lock().trial = false;
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
            b.admit().unwrap().record(true);
        }
        assert_eq!(b.state(), "closed");
        b.admit().unwrap().record(true);
        assert_eq!(b.state(), "open");
        assert!(b.admit().err().unwrap().contains("3 partner failures"));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(b.state(), "half-open");
        let trial = b.admit().expect("one trial");
        assert!(b.admit().is_err(), "only one");
        trial.record(true);
        assert_eq!(b.state(), "open", "a failed trial opens it again");
        std::thread::sleep(Duration::from_millis(40));
        b.admit().unwrap().record(false);
        assert_eq!(b.state(), "closed");
        assert!(b.admit().is_ok());
    }

    /// A trial call dropped before its outcome (the operation's deadline cut it off) lets the
    /// trial go: the next call is the new trial, rather than every call being refused as if a
    /// trial were still under way.
    #[test]
    fn a_trial_dropped_without_its_outcome_lets_the_next_call_try() {
        let b = Breaker::new(1, Duration::from_millis(20));
        b.admit().unwrap().record(true);
        std::thread::sleep(Duration::from_millis(30));
        drop(b.admit().expect("the trial"));
        let next = b
            .admit()
            .expect("the trial went with its call: the next call tries");
        next.record(false);
        assert_eq!(b.state(), "closed");
    }

    /// A call admitted before the circuit opened, dropped or ending late, leaves the trial
    /// under way alone: one trial at a time.
    #[test]
    fn a_late_call_that_was_not_the_trial_leaves_the_trial_alone() {
        let b = Breaker::new(1, Duration::from_millis(20));
        let early = b.admit().unwrap();
        b.admit().unwrap().record(true);
        std::thread::sleep(Duration::from_millis(30));
        let trial = b.admit().expect("the trial");
        drop(early);
        assert!(b.admit().is_err(), "a second trial beside the first");
        trial.record(false);
        assert_eq!(b.state(), "closed");
    }
}
