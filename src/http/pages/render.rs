//! Turning data into page text: money and time formatting, parsing money
//! typed by people, the [`Layout`] every page template carries, and the
//! HTML response builder (security headers, no caching of personal pages).

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;
use chrono::{DateTime, Utc};

use super::assets;
use super::errors::PageError;
use crate::domain::{Money, MAX_AMOUNT};
use crate::store::User;

/// The Content-Security-Policy of every page: only our own scripts and
/// styles, no inline code, forms only to us, never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'; object-src 'none'";

/// `12550` in `EUR` → `EUR 125.50` (minor units, two decimals, the code).
pub fn money(amount: Money, currency: &str) -> String {
    let sign = if amount < 0 { "-" } else { "" };
    let abs = amount.unsigned_abs();
    let major = abs / 100;
    let minor = abs % 100;
    // Thousands separators keep big prices readable: 1,234,567.00.
    let digits = major.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("{currency} {sign}{grouped}.{minor:02}")
}

/// Minor units as a plain decimal for form fields: `12550` → `125.50`.
pub fn money_input(amount: Money) -> String {
    format!("{}.{:02}", amount / 100, (amount % 100).abs())
}

/// Parses an amount typed by a person (`12`, `12.5`, `12.50`, `12,50`,
/// `1 234.00`) into minor units.
pub fn parse_money(text: &str) -> Result<Money, &'static str> {
    const HINT: &str = "enter an amount like 12.50";
    let cleaned: String = text
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .collect();
    if cleaned.is_empty() {
        return Err("enter an amount");
    }
    let (whole, fraction) = match cleaned.split_once(['.', ',']) {
        Some((whole, fraction)) => (whole, fraction),
        None => (cleaned.as_str(), ""),
    };
    let whole = if whole.is_empty() { "0" } else { whole };
    if !whole.bytes().all(|b| b.is_ascii_digit()) || whole.len() > 13 {
        return Err(HINT);
    }
    if fraction.len() > 2 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HINT);
    }
    let major: Money = whole.parse().map_err(|_| HINT)?;
    let minor: Money = match fraction.len() {
        0 => 0,
        1 => fraction.parse::<Money>().map_err(|_| HINT)? * 10,
        _ => fraction.parse().map_err(|_| HINT)?,
    };
    let amount = major
        .checked_mul(100)
        .and_then(|m| m.checked_add(minor))
        .ok_or(HINT)?;
    if amount < 1 {
        return Err("the amount must be more than zero");
    }
    if amount > MAX_AMOUNT {
        return Err("that amount is too large");
    }
    Ok(amount)
}

/// `27 Nov 2026, 20:31 UTC`: what pages show before JavaScript localises it.
pub fn time_text(time: DateTime<Utc>) -> String {
    time.format("%-d %b %Y, %H:%M UTC").to_string()
}

/// `27 Nov 2026, 20:31:05 UTC`: bid times, where seconds matter.
pub fn precise_time_text(time: DateTime<Utc>) -> String {
    time.format("%-d %b %Y, %H:%M:%S UTC").to_string()
}

/// `2026-11-27T20:31` in UTC: the value of a `datetime-local` field.
pub fn time_input(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M").to_string()
}

/// A time remaining in words, coarse: `2d 4h`, `1h 02m`, `4m 09s`, `9s`.
pub fn remaining_text(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let secs = (to - from).num_seconds().max(0);
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

/// A human label of a public status.
pub fn status_label(status: &str) -> &'static str {
    match status {
        "scheduled" => "Starting soon",
        "open" => "Open",
        "closed" => "Closed",
        "cancelled" => "Cancelled",
        _ => "Unknown",
    }
}

/// Which part of the site a page belongs to (highlights the navigation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Auctions,
    MyBids,
    Watching,
    Admin,
    Account,
    None,
}

/// The signed-in user, as the layout shows them.
#[derive(Debug, Clone)]
pub struct UserView {
    pub username: String,
    pub is_admin: bool,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            username: user.username.clone(),
            is_admin: user.is_admin(),
        }
    }
}

/// Where on the next page a flash message belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashSlot {
    /// The top of the page.
    Page,
    /// The bid box: the answer to a bid.
    Bid,
    /// The buy-now box: the answer to a buy now.
    BuyNow,
}

/// A one-time message carried across a redirect (PRG).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    /// `success`, `info` or `error` (a CSS class).
    pub kind: &'static str,
    pub text: String,
    /// Where it is shown.
    pub slot: FlashSlot,
}

impl Flash {
    fn new(kind: &'static str, text: impl Into<String>) -> Self {
        Self {
            kind,
            text: text.into(),
            slot: FlashSlot::Page,
        }
    }

    pub fn success(text: impl Into<String>) -> Self {
        Self::new("success", text)
    }

    pub fn info(text: impl Into<String>) -> Self {
        Self::new("info", text)
    }

    pub fn error(text: impl Into<String>) -> Self {
        Self::new("error", text)
    }

    /// Marks this message as the answer to a bid.
    pub fn for_bid(mut self) -> Self {
        self.slot = FlashSlot::Bid;
        self
    }

    /// Marks this message as the answer to a buy now.
    pub fn for_buy_now(mut self) -> Self {
        self.slot = FlashSlot::BuyNow;
        self
    }
}

/// What the base template needs on every page.
#[derive(Debug, Clone)]
pub struct Layout {
    pub title: String,
    pub user: Option<UserView>,
    pub csrf: String,
    pub flash: Option<Flash>,
    pub section: Section,
    /// Appended to asset URLs so that browsers may cache them forever.
    pub asset_version: &'static str,
    /// Error pages show a reduced header (no account links).
    pub minimal: bool,
    /// When the page was rendered (RFC 3339): the scripts' first clock offset.
    pub server_time: String,
    /// This page's path and query: where its small forms (watch) return.
    pub path: String,
}

impl Layout {
    /// The layout of a page rendered outside any request context (errors).
    pub fn minimal(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            user: None,
            csrf: String::new(),
            flash: None,
            section: Section::None,
            asset_version: assets::version(),
            minimal: true,
            server_time: crate::auction::view::rfc3339(Utc::now()),
            path: String::new(),
        }
    }

    pub fn is(&self, section: &str) -> bool {
        let current = match self.section {
            Section::Auctions => "auctions",
            Section::MyBids => "my-bids",
            Section::Watching => "watching",
            Section::Admin => "admin",
            Section::Account => "account",
            Section::None => "",
        };
        current == section
    }

    /// `aria-current="page"` for the current section's link.
    pub fn current(&self, section: &str) -> &'static str {
        if self.is(section) {
            "page"
        } else {
            "false"
        }
    }
}

/// An HTML response with the page headers.
pub fn html(status: StatusCode, body: String) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    apply_page_headers(&mut response);
    response.body(body)
}

/// Adds the headers every page carries.
pub fn apply_page_headers(response: &mut actix_web::HttpResponseBuilder) {
    response
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY));
}

/// Renders a template to a string, or a logged 500.
pub fn render_to_string<T: Template>(template: &T) -> Result<String, PageError> {
    template.render().map_err(|error| {
        tracing::error!(error = %error, "template rendering failed");
        PageError::Internal
    })
}

/// Only local paths may be redirect targets (no open redirects): `next` is
/// cleaned up as a browser's URL parser would (leading and trailing C0
/// controls and spaces removed, tabs and line breaks removed anywhere, `\`
/// read as `/`), and what remains must be a path starting with exactly one
/// `/`. Anything else (`//host`, `/\host`, `https:…`, `javascript:…`, a
/// relative path) becomes `/`.
pub fn safe_next(next: Option<&str>) -> String {
    next.and_then(local_path).unwrap_or_else(|| "/".to_owned())
}

fn local_path(next: &str) -> Option<String> {
    let cleaned: String = next
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .map(|c| if c == '\\' { '/' } else { c })
        .collect();
    let rest = cleaned.strip_prefix('/')?;
    if rest.starts_with('/') {
        return None;
    }
    // The `Location` header gets visible ASCII only: the rest is
    // percent-encoded, which the browser reads as the same path.
    let mut path = String::with_capacity(cleaned.len());
    for byte in cleaned.bytes() {
        if (0x21..=0x7e).contains(&byte) {
            path.push(char::from(byte));
        } else {
            path.push_str(&format!("%{byte:02X}"));
        }
    }
    Some(path)
}

/// Percent-encodes a value for a query string.
pub fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_minor_units_with_two_decimals_and_the_code() {
        assert_eq!(money(12550, "EUR"), "EUR 125.50");
        assert_eq!(money(5, "USD"), "USD 0.05");
        assert_eq!(money(123_456_789, "GBP"), "GBP 1,234,567.89");
        assert_eq!(money(100_000, "EUR"), "EUR 1,000.00");
    }

    #[test]
    fn typed_amounts_become_minor_units() {
        assert_eq!(parse_money("12"), Ok(1200));
        assert_eq!(parse_money("12.5"), Ok(1250));
        assert_eq!(parse_money(" 12,50 "), Ok(1250));
        assert_eq!(parse_money("1 234.00"), Ok(123_400));
        assert_eq!(parse_money(".75"), Ok(75));
        assert!(parse_money("").is_err());
        assert!(parse_money("0").is_err());
        assert!(parse_money("12.505").is_err());
        assert!(parse_money("-3").is_err());
        assert!(parse_money("1e5").is_err());
        assert!(parse_money("99999999999999").is_err());
    }

    /// `next` values that a browser would take to another host or scheme
    /// (or that are no path at all).
    const HOSTILE_NEXT: &[&str] = &[
        "//evil.example",
        "//evil.example/x",
        "/\t/evil.example/x",
        "/\t\\evil.example",
        "/\n/evil.example",
        "/\r/evil.example",
        "/\r\n/evil.example",
        "\t//evil.example",
        " //evil.example",
        "\u{0}//evil.example",
        "\u{1f}/\\evil.example",
        "/\\evil.example",
        "\\/evil.example",
        "\\\\evil.example",
        "\\evil.example",
        "https://evil.example",
        "https:evil.example",
        "http:/evil.example",
        "HTTPS://evil.example",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "evil.example",
        "",
        "  ",
        "/",
        "///evil.example",
        "/\t\t/evil.example",
    ];

    #[test]
    fn only_local_paths_are_redirect_targets() {
        assert_eq!(safe_next(Some("/auctions/x")), "/auctions/x");
        assert_eq!(safe_next(Some("/me/bids?tab=2#top")), "/me/bids?tab=2#top");
        assert_eq!(safe_next(None), "/");
        for next in HOSTILE_NEXT {
            let target = safe_next(Some(next));
            assert!(
                target.starts_with('/') && !target[1..].starts_with('/'),
                "{next:?} -> {target:?}"
            );
        }
    }

    #[test]
    fn a_local_path_is_cleaned_as_a_browser_would() {
        assert_eq!(safe_next(Some(" /auctions/x\t")), "/auctions/x");
        assert_eq!(safe_next(Some("/auc\ntions/x")), "/auctions/x");
        assert_eq!(safe_next(Some("/a\\b")), "/a/b");
        assert_eq!(safe_next(Some("/a b/é")), "/a%20b/%C3%A9");
        assert_eq!(safe_next(Some("/a\u{b}b")), "/a%0Bb");
    }

    #[test]
    fn remaining_time_is_coarse() {
        let now = Utc::now();
        assert_eq!(
            remaining_text(now, now + chrono::Duration::seconds(9)),
            "9s"
        );
        assert_eq!(
            remaining_text(now, now + chrono::Duration::seconds(249)),
            "4m 09s"
        );
        assert_eq!(
            remaining_text(now, now + chrono::Duration::seconds(3725)),
            "1h 02m"
        );
        assert_eq!(
            remaining_text(now, now - chrono::Duration::seconds(5)),
            "0s"
        );
    }
}
