//! The increment policy: how much a bid must beat the current price by.
//!
//! A table is copied into each auction when it is created, so changing the
//! default later never changes the rules of a running auction.

use serde::{Deserialize, Serialize};

use super::money::Money;

/// One row of the table: prices strictly below `below` step by `increment`;
/// the last row has no bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncrementStep {
    pub below: Option<Money>,
    pub increment: Money,
}

/// An ordered increment table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IncrementTable {
    steps: Vec<IncrementStep>,
}

impl IncrementTable {
    /// The eBay-like default of docs/bidding.md (minor units).
    pub fn standard() -> Self {
        let bounded = [
            (100, 5),
            (500, 25),
            (2_500, 50),
            (10_000, 100),
            (25_000, 250),
            (50_000, 500),
            (100_000, 1_000),
            (250_000, 2_500),
            (500_000, 5_000),
        ];
        let mut steps: Vec<IncrementStep> = bounded
            .iter()
            .map(|&(below, increment)| IncrementStep {
                below: Some(below),
                increment,
            })
            .collect();
        steps.push(IncrementStep {
            below: None,
            increment: 10_000,
        });
        Self { steps }
    }

    /// The rows, in order (the last one unbounded).
    pub fn steps(&self) -> &[IncrementStep] {
        &self.steps
    }

    /// The increment that applies at `price`.
    pub fn increment_at(&self, price: Money) -> Money {
        self.steps
            .iter()
            .find(|step| step.below.is_none_or(|below| price < below))
            .or(self.steps.last())
            .map_or(1, |step| step.increment.max(1))
    }
}

impl Default for IncrementTable {
    fn default() -> Self {
        Self::standard()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_table_matches_the_design() {
        let table = IncrementTable::standard();
        let cases = [
            (0, 5),
            (99, 5),
            (100, 25),
            (499, 25),
            (500, 50),
            (2_499, 50),
            (2_500, 100),
            (9_999, 100),
            (10_000, 250),
            (25_000, 500),
            (50_000, 1_000),
            (100_000, 2_500),
            (250_000, 5_000),
            (499_999, 5_000),
            (500_000, 10_000),
            (1_000_000_000_000, 10_000),
        ];
        for (price, increment) in cases {
            assert_eq!(table.increment_at(price), increment, "at price {price}");
        }
    }

    #[test]
    fn table_round_trips_through_json() {
        let table = IncrementTable::standard();
        let json = serde_json::to_string(&table).expect("a table serializes");
        let back: IncrementTable = serde_json::from_str(&json).expect("and parses back");
        assert_eq!(table, back);
    }
}
