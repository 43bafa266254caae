//! What the user sees on stderr while a run goes on: one indicatif bar,
//! restyled per phase (registering, connecting, bidding), and setup notes.
//! When stderr is not a terminal the bar hides itself and notes become
//! plain lines; with `progress` off (tests, `--quiet`) nothing is printed.

use std::borrow::Cow;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The progress bar and notes of one run.
pub struct Progress {
    bar: ProgressBar,
    verbose: bool,
}

impl Progress {
    pub fn new(verbose: bool) -> Self {
        let bar = if verbose {
            ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        Self { bar, verbose }
    }

    /// The bar, for phases that count.
    pub fn bar(&self) -> &ProgressBar {
        &self.bar
    }

    /// A line above the bar (or on stderr when there is no visible bar).
    pub fn note(&self, message: impl AsRef<str>) {
        if !self.verbose {
            return;
        }
        if self.bar.is_hidden() {
            eprintln!("{}", message.as_ref());
        } else {
            self.bar.println(message);
        }
    }

    /// Starts a counting phase of `len` steps.
    pub fn phase(&self, message: impl Into<Cow<'static, str>>, len: u64) {
        let style = ProgressStyle::with_template(
            "{msg:>20} [{elapsed_precise}] [{bar:40.cyan/blue}] {pos}/{len}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        self.bar.set_style(style);
        self.bar.set_length(len);
        self.bar.set_position(0);
        self.bar.set_message(message);
        self.bar.enable_steady_tick(Duration::from_millis(200));
    }

    /// Starts the timed bidding phase; positions are milliseconds.
    pub fn run_phase(&self, duration: Duration) {
        let style = ProgressStyle::with_template(
            "[{elapsed_precise}] [{bar:30.green/blue}] {percent:>3}% {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        self.bar.set_style(style);
        self.bar
            .set_length(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX));
        self.bar.set_position(0);
        self.bar.reset_elapsed();
    }

    /// Hides the bar for good.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
