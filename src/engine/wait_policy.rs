//! The OpenMP wait policy of a multi-threaded NEST run, chosen per run from
//! the cores that are free when it starts (docs/benchmarks.md, "Threads and
//! the OpenMP wait policy").
//!
//! NEST synchronises its threads twice per 1 ms step. A thread that waits at
//! such a barrier either spins (`active`: 2 threads beat 1 on idle cores, but
//! a spinning thread takes the core its partner needs when other work runs,
//! ~80x slower on a loaded 2-core machine) or sleeps in the kernel
//! (`passive`: safe, but every barrier costs a wake-up). So a run spins only
//! when there is a free core for every thread; otherwise it sleeps. libgomp
//! reads `OMP_WAIT_POLICY` once, when the NEST kernel is loaded, so the
//! choice holds for the process (a user's `OMP_WAIT_POLICY` always wins).

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

/// A policy and why it was chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub policy: WaitPolicy,
    /// `OMP_WAIT_POLICY`, `1 thread`, or the free cores measured.
    pub reason: String,
    /// [`oversubscription_advice`] on the free cores measured, if any.
    pub advice: Option<String>,
}

/// Busy cores (of other work) tolerated per spinning thread: background
/// noise of a few percent does not make spinning hurt.
const SLACK_CORES: f64 = 0.25;

/// How long the CPU counters are sampled to count the free cores.
pub const SAMPLE: Duration = Duration::from_millis(250);

/// The advice for a run with more threads than free cores: NEST synchronises
/// its threads every step, so a thread that shares its core with other work
/// holds the others up at every barrier, whatever the wait policy (2 threads
/// on a 2-core machine with one busy core: ~1.4x slower than 1 thread,
/// docs/benchmarks.md "Threads under one busy process"). `None` when every
/// thread has a free core.
pub fn oversubscription_advice(threads: usize, free_cores: f64) -> Option<String> {
    if threads <= 1 || free_cores + SLACK_CORES >= threads as f64 {
        return None;
    }
    let fitting = ((free_cores + SLACK_CORES).floor() as usize).clamp(1, threads - 1);
    Some(format!(
        "only {free_cores:.1} free cores for {threads} threads: this run is likely slower than \
         with --threads {fitting} (a different --threads changes NEST's random streams, so \
         the result too)"
    ))
}

/// The rule: spin only with more than one thread and a free core for each.
pub fn choose(threads: usize, free_cores: f64) -> WaitPolicy {
    if threads > 1 && free_cores + SLACK_CORES >= threads as f64 {
        WaitPolicy::Active
    } else {
        WaitPolicy::Passive
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

/// The policy of a run with `threads` threads: the user's `OMP_WAIT_POLICY`
/// if set, else [`choose`] on the free cores measured now.
pub fn decide(threads: usize) -> Choice {
    if let Ok(p) = std::env::var("OMP_WAIT_POLICY") {
        let policy = if p.trim().eq_ignore_ascii_case("active") {
            WaitPolicy::Active
        } else {
            WaitPolicy::Passive
        };
        return Choice {
            policy,
            reason: format!("OMP_WAIT_POLICY={p}"),
            advice: None,
        };
    }
    if threads <= 1 {
        return Choice {
            policy: WaitPolicy::Passive,
            reason: "1 thread".into(),
            advice: None,
        };
    }
    match free_cores(SAMPLE) {
        Some(free) => Choice {
            policy: choose(threads, free),
            reason: format!("{free:.2} free cores for {threads} threads"),
            advice: oversubscription_advice(threads, free),
        },
        None => Choice {
            policy: WaitPolicy::Passive,
            reason: "free cores unknown".into(),
            advice: None,
        },
    }
}

/// Decides the policy of a NEST run with `threads` threads and, unless the
/// user set one, puts it into `OMP_WAIT_POLICY` for the NEST kernel to read
/// when it is loaded (call before the first NEST engine of the process;
/// later calls cannot change a loaded kernel's policy).
pub fn apply_for_run(threads: usize) -> Choice {
    let c = decide(threads);
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
    fn advises_fewer_threads_only_when_cores_are_short() {
        assert_eq!(oversubscription_advice(1, 0.0), None);
        assert_eq!(oversubscription_advice(2, 2.0), None);
        assert_eq!(oversubscription_advice(2, 1.8), None);
        let a = oversubscription_advice(2, 1.0).expect("2 threads on 1 free core");
        assert!(
            a.contains("--threads 1") && a.contains("1.0 free cores"),
            "{a}"
        );
        let b = oversubscription_advice(8, 3.1).expect("8 threads on 3 free cores");
        assert!(b.contains("--threads 3"), "{b}");
        let c = oversubscription_advice(4, 0.0).expect("no free core");
        assert!(c.contains("--threads 1"), "{c}");
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
