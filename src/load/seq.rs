//! Sequence continuity per auction: every client checks that event `seq`s
//! arrive as last+1, counting gaps (a jump forward) and duplicates (a seq at
//! or below the last one). Both must stay 0 in a healthy run.

/// What one observed `seq` says about continuity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqCheck {
    /// Exactly the next one (or the first one seen).
    Next,
    /// A jump forward over this many missing events.
    Gap(u64),
    /// At or below the last one seen.
    Duplicate,
}

/// The last `seq` one client saw of one auction.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeqTracker {
    last: Option<i64>,
}

impl SeqTracker {
    /// The last seq seen, if any.
    pub fn last(&self) -> Option<i64> {
        self.last
    }

    /// A snapshot at `seq`: the starting point when nothing was seen yet,
    /// else checked like an event that may repeat the last seq.
    pub fn snapshot(&mut self, seq: i64) -> SeqCheck {
        match self.last {
            None => {
                self.last = Some(seq);
                SeqCheck::Next
            }
            Some(last) if seq > last => {
                self.last = Some(seq);
                SeqCheck::Gap(seq.abs_diff(last))
            }
            Some(last) if seq < last => SeqCheck::Duplicate,
            Some(_) => SeqCheck::Next,
        }
    }

    /// An event at `seq`.
    pub fn event(&mut self, seq: i64) -> SeqCheck {
        match self.last {
            None => {
                self.last = Some(seq);
                SeqCheck::Next
            }
            Some(last) if seq <= last => SeqCheck::Duplicate,
            Some(last) if seq == last + 1 => {
                self.last = Some(seq);
                SeqCheck::Next
            }
            Some(last) => {
                self.last = Some(seq);
                SeqCheck::Gap(seq.abs_diff(last) - 1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_events_are_fine() {
        let mut tracker = SeqTracker::default();
        assert_eq!(tracker.snapshot(4), SeqCheck::Next);
        assert_eq!(tracker.event(5), SeqCheck::Next);
        assert_eq!(tracker.event(6), SeqCheck::Next);
        assert_eq!(tracker.last(), Some(6));
    }

    #[test]
    fn jumps_and_repeats_are_counted() {
        let mut tracker = SeqTracker::default();
        tracker.snapshot(0);
        assert_eq!(tracker.event(3), SeqCheck::Gap(2));
        assert_eq!(tracker.event(3), SeqCheck::Duplicate);
        assert_eq!(tracker.event(1), SeqCheck::Duplicate);
        assert_eq!(tracker.event(4), SeqCheck::Next);
    }

    #[test]
    fn a_repeated_snapshot_at_the_same_seq_is_fine() {
        let mut tracker = SeqTracker::default();
        tracker.snapshot(7);
        assert_eq!(tracker.snapshot(7), SeqCheck::Next);
        assert_eq!(tracker.snapshot(9), SeqCheck::Gap(2));
        assert_eq!(tracker.snapshot(8), SeqCheck::Duplicate);
    }
}
