//! The progress bar: the component's progress reports drawn on stderr with
//! indicatif, only when stderr is a terminal. Output on stdout (`--json`
//! included) is never touched.
//!
//! One bar per phase. While tags are read, Rankr writes go on at the same
//! time (pipelined): they show as a count beside the reading bar instead of
//! a bar of their own, so the bar does not flicker between the two.

use ghl_rankr_host::imports::ProgressSink;
use ghl_rankr_host::types::{Phase, ProgressUpdate};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

/// A bar that follows the component's phases.
pub struct TermProgress {
    bar: ProgressBar,
    phase: Mutex<Option<Phase>>,
}

impl TermProgress {
    /// A bar on stderr when stderr is a terminal; none otherwise.
    pub fn if_terminal() -> Option<Self> {
        std::io::stderr()
            .is_terminal()
            .then(|| Self::new(ProgressDrawTarget::stderr_with_hz(10)))
    }

    fn new(target: ProgressDrawTarget) -> Self {
        TermProgress {
            bar: ProgressBar::with_draw_target(None, target),
            phase: Mutex::new(None),
        }
    }

    /// Clears the bar (call before printing the report).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn label(phase: Phase) -> &'static str {
    match phase {
        Phase::ReadingTags => "reading GHL tags",
        Phase::WritingTags => "writing tags to Rankr",
        Phase::CheckingMissing => "checking tags gone from GHL",
        Phase::ReadingPosts => "reading GHL posts",
        Phase::WritingMetrics => "writing statistics to Rankr",
    }
}

impl ProgressSink for TermProgress {
    fn update(&self, update: &ProgressUpdate) {
        let mut current = self.phase.lock().unwrap_or_else(|p| p.into_inner());
        if *current == Some(Phase::ReadingTags) && update.phase == Phase::WritingTags {
            self.bar
                .set_message(format!("{} · {} written", label(Phase::ReadingTags), update.done));
            return;
        }
        if *current != Some(update.phase) {
            *current = Some(update.phase);
            let style = match update.total {
                Some(_) => {
                    ProgressStyle::with_template("{spinner} {msg:36} [{bar:30}] {pos}/{len} · {elapsed} · eta {eta}")
                }
                None => ProgressStyle::with_template("{spinner} {msg:36} {pos} · {elapsed}"),
            };
            if let Ok(style) = style {
                self.bar.set_style(style.progress_chars("=> "));
            }
            self.bar.set_message(label(update.phase));
            self.bar.set_position(0);
            self.bar.enable_steady_tick(Duration::from_millis(200));
        }
        match update.total {
            Some(total) => self.bar.set_length(total),
            None => self.bar.unset_length(),
        }
        self.bar.set_position(update.done);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(phase: Phase, done: u64, total: Option<u64>) -> ProgressUpdate {
        ProgressUpdate { phase, done, total }
    }

    #[test]
    fn writes_during_the_read_count_beside_the_reading_bar() {
        let p = TermProgress::new(ProgressDrawTarget::hidden());
        p.update(&update(Phase::ReadingTags, 100, Some(3000)));
        p.update(&update(Phase::WritingTags, 100, None));
        assert_eq!((p.bar.position(), p.bar.length()), (100, Some(3000)));
        assert_eq!(p.bar.message(), "reading GHL tags · 100 written");
        p.update(&update(Phase::ReadingTags, 200, Some(3000)));
        assert_eq!(p.bar.position(), 200);
        // A new phase starts its own bar.
        p.update(&update(Phase::CheckingMissing, 100, Some(120)));
        assert_eq!((p.bar.position(), p.bar.length()), (100, Some(120)));
        assert_eq!(p.bar.message(), "checking tags gone from GHL");
        p.update(&update(Phase::ReadingPosts, 40, None));
        assert_eq!((p.bar.position(), p.bar.length()), (40, None));
    }
}
