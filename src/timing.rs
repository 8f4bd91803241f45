//! Per-step timings of one command, for the benchmark and for finding where a command's
//! time goes: with `OKSTRA_TIMINGS=1` in the environment, the steps a command marks
//! ([`mark`]) are printed to stderr when the native `okstra` executable exits, one
//! `okstra-timing <step> <µs>` line each (the time since the previous mark, the first one
//! since the process started). Off (one relaxed atomic load per mark) otherwise.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The environment variable that turns the timings on (`1`).
pub const ENV: &str = "OKSTRA_TIMINGS";

/// 0 = not looked at yet, 1 = off, 2 = on.
static STATE: AtomicU8 = AtomicU8::new(0);
static STEPS: Mutex<Steps> = Mutex::new(Steps {
    last: None,
    done: Vec::new(),
});

struct Steps {
    last: Option<Instant>,
    done: Vec<(&'static str, Duration)>,
}

fn on() -> bool {
    match STATE.load(Ordering::Relaxed) {
        0 => {
            let on = std::env::var_os(ENV).is_some_and(|v| v == "1");
            STATE.store(if on { 2 } else { 1 }, Ordering::Relaxed);
            on
        }
        s => s == 2,
    }
}

/// Starts the clock (the executable calls it first thing).
pub fn start() {
    if on() {
        let mut s = STEPS.lock().unwrap_or_else(|e| e.into_inner());
        s.last = Some(Instant::now());
    }
}

/// Records that `step` just ended: the time since the previous mark.
pub fn mark(step: &'static str) {
    if !on() {
        return;
    }
    let now = Instant::now();
    let mut s = STEPS.lock().unwrap_or_else(|e| e.into_inner());
    let took = s.last.map(|t| now - t).unwrap_or_default();
    s.last = Some(now);
    s.done.push((step, took));
}

/// The recorded steps as `okstra-timing <step> <µs>` lines (empty when off).
pub fn report() -> String {
    if !on() {
        return String::new();
    }
    let s = STEPS.lock().unwrap_or_else(|e| e.into_inner());
    s.done
        .iter()
        .map(|(step, took)| format!("okstra-timing {step} {}\n", took.as_micros()))
        .collect()
}
