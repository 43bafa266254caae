//! Money: integer minor units (cents) of the auction's currency, never floats.

/// An amount in minor units of the auction's currency.
pub type Money = i64;

/// The largest amount any field may carry (10^12 minor units).
pub const MAX_AMOUNT: Money = 1_000_000_000_000;

/// Checks a currency code: exactly three capital ASCII letters.
pub fn is_valid_currency(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_are_three_capital_letters() {
        assert!(is_valid_currency("EUR"));
        assert!(!is_valid_currency("eur"));
        assert!(!is_valid_currency("EURO"));
        assert!(!is_valid_currency("E1R"));
        assert!(!is_valid_currency("ÉUR"));
    }
}
