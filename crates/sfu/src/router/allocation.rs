//! Sharing a transport's outgoing budget among its simulcast consumers, as mediasoup does:
//! what the other consumers (audio, single-stream video) send is taken first; then, round after
//! round, each simulcast consumer in priority order moves up one spatial layer (a consumer of
//! priority p gets p steps per round) while the step's extra bitrate fits. A consumer whose
//! lowest layer does not fit gets none: audio keeps flowing.

use super::consumer::simulcast::Budget;

/// One simulcast consumer as the allocation sees it.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub priority: u32,
    /// Per spatial layer, the bitrate of its stream when it is flowing.
    pub rates: Vec<Option<u64>>,
    pub preferred: usize,
}

impl Candidate {
    /// The next flowing layer above `given`, up to the preferred one.
    fn next(&self, given: Option<usize>) -> Option<usize> {
        let from = given.map_or(0, |g| g + 1);
        (from..self.rates.len().min(self.preferred + 1)).find(|&s| self.rates[s].is_some())
    }

    fn rate(&self, layer: Option<usize>) -> u64 {
        layer.and_then(|s| self.rates[s]).unwrap_or(0)
    }
}

/// Each candidate's share of `budget` once `fixed` is taken.
pub fn distribute(budget: u64, fixed: u64, candidates: &[Candidate]) -> Vec<Budget> {
    let mut remaining = budget.saturating_sub(fixed);
    let mut given: Vec<Option<usize>> = vec![None; candidates.len()];
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(candidates[i].priority));
    loop {
        let mut moved = false;
        for &i in &order {
            let c = &candidates[i];
            for _ in 0..c.priority.max(1) {
                let Some(next) = c.next(given[i]) else { break };
                let cost = c.rate(Some(next)).saturating_sub(c.rate(given[i]));
                if cost > remaining {
                    break;
                }
                remaining -= cost;
                given[i] = Some(next);
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
    given.into_iter().map(|g| g.map_or(Budget::Nothing, Budget::UpTo)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three_layers(priority: u32, preferred: usize) -> Candidate {
        Candidate { priority, rates: vec![Some(150_000), Some(500_000), Some(1_500_000)], preferred }
    }

    #[test]
    fn layers_by_budget_preference_and_priority() {
        // Enough for everything.
        assert_eq!(distribute(10_000_000, 0, &[three_layers(1, 2)]), vec![Budget::UpTo(2)]);
        // 250 k: the lowest layer only.
        assert_eq!(distribute(250_000, 0, &[three_layers(1, 2)]), vec![Budget::UpTo(0)]);
        // Audio (64 k) first; 200 k leaves 136 k: no video layer fits.
        assert_eq!(distribute(200_000, 64_000, &[three_layers(1, 2)]), vec![Budget::Nothing]);
        // Preferred layer 1 stops there, even with more budget.
        assert_eq!(distribute(10_000_000, 0, &[three_layers(1, 1)]), vec![Budget::UpTo(1)]);
        // Two viewers, 1.2 M: both get layer 1 (1 M), not one at layer 2.
        assert_eq!(distribute(1_200_000, 0, &[three_layers(1, 2), three_layers(1, 2)]), vec![Budget::UpTo(1), Budget::UpTo(1)]);
        // The priority 2 consumer climbs first: 1.65 M → layer 2 for it, layer 0 for the other.
        assert_eq!(distribute(1_650_000, 0, &[three_layers(1, 2), three_layers(2, 2)]), vec![Budget::UpTo(0), Budget::UpTo(2)]);
        // A layer not flowing is skipped.
        let c = Candidate { priority: 1, rates: vec![Some(150_000), None, Some(1_500_000)], preferred: 2 };
        assert_eq!(distribute(2_000_000, 0, &[c]), vec![Budget::UpTo(2)]);
    }
}
