//! The terminal side of a run: a progress bar in simulated seconds (shown
//! only for runs longer than a second) and notes on stderr.  With
//! `SEQLEARN_PROGRESS=lines` (set by the Python package, whose stderr is a
//! pipe where the bar does not draw) progress is printed as plain lines
//! `progress: 1.0 / 16.0 s simulated`, at most twice a second.

use std::time::Instant;

use seqlearn_nest::run::Observer;

pub struct Terminal {
    bar: indicatif::ProgressBar,
    start: Instant,
    shown: bool,
    quiet: bool,
    /// plain progress lines instead of the bar: time and `done` of the last line
    lines: Option<Option<(Instant, u64)>>,
}

impl Terminal {
    pub fn new(quiet: bool) -> Terminal {
        let bar = if quiet {
            indicatif::ProgressBar::hidden()
        } else {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:40} {msg} (ETA {eta})",
                )
                .expect("valid template"),
            );
            bar
        };
        Terminal {
            bar,
            start: Instant::now(),
            shown: false,
            quiet,
            lines: (!quiet && std::env::var("SEQLEARN_PROGRESS").is_ok_and(|v| v == "lines"))
                .then_some(None),
        }
    }
}

impl Observer for Terminal {
    fn note(&mut self, message: &str) {
        if !self.quiet {
            self.bar.suspend(|| eprintln!("{message}"));
        }
    }

    fn progress(&mut self, done: u64, total: u64, dt: f64) {
        if let Some(last) = self.lines.as_mut() {
            let due = match *last {
                None => true,
                Some((_, d)) if d == done => false,
                Some((t, _)) => done == total || t.elapsed().as_secs_f64() >= 0.5,
            };
            if due {
                *last = Some((Instant::now(), done));
                eprintln!(
                    "progress: {:.1} / {:.1} s simulated",
                    done as f64 * dt * 1e-3,
                    total as f64 * dt * 1e-3
                );
            }
            return;
        }
        if !self.shown && self.start.elapsed().as_secs_f64() > 1.0 {
            self.shown = true;
            self.bar.set_length(total);
        }
        if self.shown {
            self.bar.set_position(done);
            self.bar.set_message(format!(
                "{:.1} / {:.1} s simulated",
                done as f64 * dt * 1e-3,
                total as f64 * dt * 1e-3
            ));
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
