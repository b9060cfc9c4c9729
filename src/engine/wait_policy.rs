//! The threads and the OpenMP wait policy of a multi-threaded NEST run,
//! chosen per run from the cores that are free when it starts
//! (docs/benchmarks.md, "Threads and the OpenMP wait policy").
//!
//! NEST synchronises its threads twice per 1 ms step, so a thread that
//! shares its core with other work holds the others up at every barrier:
//! 2 threads on a 2-core machine with one busy core were ~1.4x slower than
//! 1 thread, whatever the wait policy (docs/benchmarks.md "Threads under one
//! busy process"). A run therefore uses at most one thread per free core:
//! the neurons draw from their own streams (`kernels::draw_stream`), so the
//! result does not depend on the thread count, only the speed does
//! (`--exact-threads` keeps the requested count).
//!
//! A thread that waits at a barrier either spins (`active`: 2 threads beat 1
//! on idle cores, but a spinning thread takes the core its partner needs when
//! other work runs, ~80x slower on a loaded 2-core machine) or sleeps in the
//! kernel (`passive`: safe, but every barrier costs a wake-up). So a run
//! spins only when there is a free core for every thread; otherwise it
//! sleeps. libgomp reads `OMP_WAIT_POLICY` once, when the NEST kernel is
//! loaded, so the choice holds for the process (a user's `OMP_WAIT_POLICY`
//! always wins).

use std::time::Duration;

/// How idle OpenMP threads wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitPolicy {
    Active,
    Passive,
}

impl WaitPolicy {
    /// The value of `OMP_WAIT_POLICY`.
    pub fn as_env(self) -> &'static str {
        match self {
            WaitPolicy::Active => "active",
            WaitPolicy::Passive => "passive",
        }
    }
}

/// The threads and policy of a run and why they were chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// Threads the run uses (at most the requested ones).
    pub threads: usize,
    pub policy: WaitPolicy,
    /// The free cores measured (or `1 thread`), after `OMP_WAIT_POLICY=…; `
    /// when the user's variable set the policy.
    pub reason: String,
    /// Why fewer threads than requested run, or why the requested ones are
    /// likely slow (`--exact-threads` on too few free cores).
    pub note: Option<String>,
}

/// Busy cores (of other work) tolerated per spinning thread: background
/// noise of a few percent does not make spinning hurt.
const SLACK_CORES: f64 = 0.25;

/// How long the CPU counters are sampled to count the free cores.
pub const SAMPLE: Duration = Duration::from_millis(250);

/// The threads that fit on `free_cores` (at least 1, at most `threads`).
pub fn fitting_threads(threads: usize, free_cores: f64) -> usize {
    ((free_cores + SLACK_CORES).max(0.0).floor() as usize).clamp(1, threads.max(1))
}

/// The rule: spin only with more than one thread and a free core for each.
pub fn choose(threads: usize, free_cores: f64) -> WaitPolicy {
    if threads > 1 && fitting_threads(threads, free_cores) == threads {
        WaitPolicy::Active
    } else {
        WaitPolicy::Passive
    }
}

/// The plan for `threads` requested threads on `free_cores`: the threads
/// that fit (all of them with `exact`), the policy for those and a note
/// when the cores are short.
pub fn plan(threads: usize, free_cores: f64, exact: bool) -> Choice {
    let fit = fitting_threads(threads, free_cores);
    let used = if exact { threads } else { fit };
    let note = (fit < threads).then(|| {
        if exact {
            format!(
                "only {free_cores:.1} free cores for {threads} threads: this run is likely \
                 slower than with {fit} (the result does not depend on the thread count)"
            )
        } else {
            format!(
                "only {free_cores:.1} free cores for {threads} threads: running {used} (the \
                 result does not depend on the thread count; --exact-threads runs {threads})"
            )
        }
    });
    Choice {
        threads: used,
        policy: choose(used, free_cores),
        reason: format!("{free_cores:.2} free cores for {threads} threads"),
        note,
    }
}

/// Idle and total jiffies of all CPUs (the `cpu` line of /proc/stat).
fn cpu_jiffies(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal (guest is in user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    Some((idle, total))
}

/// Free cores between two /proc/stat samples on `cpus` CPUs.
fn free_between(a: &str, b: &str, cpus: usize) -> Option<f64> {
    let (i0, t0) = cpu_jiffies(a)?;
    let (i1, t1) = cpu_jiffies(b)?;
    let dt = t1.checked_sub(t0).filter(|&d| d > 0)?;
    let di = i1.saturating_sub(i0).min(dt);
    Some(cpus as f64 * di as f64 / dt as f64)
}

/// Cores not used by anything over `window` (None where /proc/stat is
/// missing, e.g. not Linux).
pub fn free_cores(window: Duration) -> Option<f64> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let a = std::fs::read_to_string("/proc/stat").ok()?;
    std::thread::sleep(window);
    let b = std::fs::read_to_string("/proc/stat").ok()?;
    free_between(&a, &b, cpus)
}

/// The plan of a run with `threads` requested threads: [`plan`] on the free
/// cores measured now; the user's `OMP_WAIT_POLICY` replaces the policy.
/// Under an MPI launch every rank keeps the requested threads (NEST needs
/// the same count on every rank; ranks would measure each other).
pub fn decide(threads: usize, exact: bool) -> Choice {
    let mut c = if threads <= 1 {
        Choice {
            threads: 1,
            policy: WaitPolicy::Passive,
            reason: "1 thread".into(),
            note: None,
        }
    } else {
        let exact = exact || crate::engine::nest::mpi::Launch::current().is_some();
        match free_cores(SAMPLE) {
            Some(free) => plan(threads, free, exact),
            None => Choice {
                threads,
                policy: WaitPolicy::Passive,
                reason: "free cores unknown".into(),
                note: None,
            },
        }
    };
    if let Ok(p) = std::env::var("OMP_WAIT_POLICY") {
        c.policy = if p.trim().eq_ignore_ascii_case("active") {
            WaitPolicy::Active
        } else {
            WaitPolicy::Passive
        };
        c.reason = format!("OMP_WAIT_POLICY={p}; {}", c.reason);
    }
    c
}

/// Decides the plan of a NEST run and, unless the user set one, puts the
/// policy into `OMP_WAIT_POLICY` for the NEST kernel to read when it is
/// loaded (call before the first NEST engine of the process; later calls
/// cannot change a loaded kernel's policy).
pub fn apply_for_run(threads: usize, exact: bool) -> Choice {
    let c = decide(threads, exact);
    if std::env::var_os("OMP_WAIT_POLICY").is_none() {
        std::env::set_var("OMP_WAIT_POLICY", c.policy.as_env());
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spins_only_with_a_free_core_per_thread() {
        assert_eq!(choose(1, 2.0), WaitPolicy::Passive);
        assert_eq!(choose(2, 2.0), WaitPolicy::Active);
        assert_eq!(choose(2, 1.8), WaitPolicy::Active);
        assert_eq!(choose(2, 1.0), WaitPolicy::Passive);
        assert_eq!(choose(2, 0.0), WaitPolicy::Passive);
        assert_eq!(choose(4, 2.0), WaitPolicy::Passive);
    }

    #[test]
    fn uses_one_thread_per_free_core() {
        assert_eq!(fitting_threads(2, 2.0), 2);
        assert_eq!(fitting_threads(2, 1.8), 2);
        assert_eq!(fitting_threads(2, 1.7), 1);
        assert_eq!(fitting_threads(8, 3.1), 3);
        assert_eq!(fitting_threads(4, 0.0), 1);
        assert_eq!(fitting_threads(2, 64.0), 2);
        // idle cores: all threads, spinning, no note
        let idle = plan(2, 2.0, false);
        assert_eq!(
            (idle.threads, idle.policy, idle.note),
            (2, WaitPolicy::Active, None)
        );
        // one busy core: one thread (no barrier to wait at)
        let busy = plan(2, 1.0, false);
        assert_eq!((busy.threads, busy.policy), (1, WaitPolicy::Passive));
        let n = busy.note.expect("a note when threads are dropped");
        assert!(
            n.contains("running 1")
                && n.contains("1.0 free cores")
                && n.contains("--exact-threads"),
            "{n}"
        );
        // 8 requested on 3 free cores: 3, spinning on their free cores
        let some = plan(8, 3.1, false);
        assert_eq!((some.threads, some.policy), (3, WaitPolicy::Active));
        // --exact-threads: all of them, sleeping, and the warning
        let exact = plan(2, 1.0, true);
        assert_eq!((exact.threads, exact.policy), (2, WaitPolicy::Passive));
        let n = exact.note.expect("a warning");
        assert!(n.contains("likely slower than with 1"), "{n}");
        assert_eq!(plan(2, 2.0, true).note, None);
    }

    #[test]
    fn free_cores_from_proc_stat() {
        let a = "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 1 2 3\n";
        // 200 jiffies later, 100 of them idle: half of 2 cores is free.
        let b = "cpu  150 0 150 900 0 0 0 0 0 0\n";
        assert_eq!(free_between(a, b, 2), Some(1.0));
        // Fully idle.
        let c = "cpu  100 0 100 1000 0 0 0 0 0 0\n";
        assert_eq!(free_between(a, c, 2), Some(2.0));
        // No time passed, or garbage: unknown.
        assert_eq!(free_between(a, a, 2), None);
        assert_eq!(free_between("nope", b, 2), None);
        // The live counters parse.
        if let Ok(s) = std::fs::read_to_string("/proc/stat") {
            assert!(cpu_jiffies(&s).is_some());
        }
    }
}
