//! The price-over-time chart as inline SVG, drawn on the server so that it
//! shows without JavaScript. `static/auction.js` redraws the same shapes
//! (same viewBox, same scaling) as bids arrive; keep the two in step.

use chrono::{DateTime, Utc};

use super::render::money;
use crate::domain::Money;

/// The SVG's viewBox is `0 0 WIDTH HEIGHT`.
pub const WIDTH: f64 = 600.0;
pub const HEIGHT: f64 = 200.0;
/// The plotting area inside it (room for labels at the left and bottom).
const LEFT: f64 = 8.0;
const RIGHT: f64 = 592.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 172.0;

/// What the template needs to draw the chart.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chart {
    pub has_data: bool,
    /// The step line's `d` attribute.
    pub path: String,
    /// The filled area under the line.
    pub area: String,
    pub last_x: String,
    pub last_y: String,
    pub high_label: String,
    pub low_label: String,
    pub start_label: String,
    pub end_label: String,
    /// A sentence describing the chart for screen readers.
    pub description: String,
}

fn fmt(value: f64) -> String {
    format!("{value:.1}")
}

/// Draws `points` (time, price), oldest first, up to `end`.
pub fn price_chart(
    points: &[(DateTime<Utc>, Money)],
    starting_price: Money,
    end: DateTime<Utc>,
    currency: &str,
) -> Chart {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return Chart {
            description: "No bids yet, so there is no price history.".into(),
            ..Chart::default()
        };
    };
    let t0 = first.0.timestamp_millis() as f64;
    let t1 = (end.max(last.0).timestamp_millis() as f64).max(t0 + 1.0);
    let low = points
        .iter()
        .map(|p| p.1)
        .min()
        .unwrap_or(starting_price)
        .min(starting_price) as f64;
    let high = points.iter().map(|p| p.1).max().unwrap_or(starting_price) as f64;
    let span = (high - low).max(1.0);
    let (low_v, high_v) = (low - span * 0.05, high + span * 0.1);
    let x =
        |t: DateTime<Utc>| LEFT + (t.timestamp_millis() as f64 - t0) / (t1 - t0) * (RIGHT - LEFT);
    let y = |price: Money| BOTTOM - (price as f64 - low_v) / (high_v - low_v) * (BOTTOM - TOP);

    let mut path = format!("M{} {}", fmt(x(first.0)), fmt(y(first.1)));
    for point in &points[1..] {
        path.push_str(&format!(" H{} V{}", fmt(x(point.0)), fmt(y(point.1))));
    }
    let end_x = fmt(x(end.max(last.0)));
    path.push_str(&format!(" H{end_x}"));
    let area = format!("{path} V{} H{} Z", fmt(BOTTOM), fmt(x(first.0)));
    let bids = points.len();
    Chart {
        has_data: true,
        path,
        area,
        last_x: end_x,
        last_y: fmt(y(last.1)),
        high_label: money(high as Money, currency),
        low_label: money(low as Money, currency),
        start_label: first.0.format("%H:%M UTC").to_string(),
        end_label: end.max(last.0).format("%H:%M UTC").to_string(),
        description: format!(
            "Price over time: {} bid{}, from {} to {}.",
            bids,
            if bids == 1 { "" } else { "s" },
            money(first.1, currency),
            money(last.1, currency)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_bids_draw_nothing() {
        let chart = price_chart(&[], 1000, Utc::now(), "EUR");
        assert!(!chart.has_data);
        assert!(chart.path.is_empty());
    }

    #[test]
    fn the_line_steps_up_through_every_bid_and_stays_inside_the_box() {
        let start = Utc::now();
        let points = [
            (start, 1000),
            (start + chrono::Duration::seconds(10), 1100),
            (start + chrono::Duration::seconds(20), 1500),
        ];
        let chart = price_chart(&points, 1000, start + chrono::Duration::seconds(40), "EUR");
        assert!(chart.has_data);
        assert_eq!(chart.path.matches('H').count(), 3);
        assert_eq!(chart.path.matches('V').count(), 2);
        for number in chart
            .path
            .split(|c: char| c.is_ascii_alphabetic() || c == ' ')
            .filter(|s| !s.is_empty())
        {
            let value: f64 = number.parse().expect("a number");
            assert!((0.0..=WIDTH).contains(&value), "{value} in {}", chart.path);
        }
        assert_eq!(chart.high_label, "EUR 15.00");
        assert_eq!(chart.low_label, "EUR 10.00");
        assert!(chart.description.contains("3 bids"));
    }
}
