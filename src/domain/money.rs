//! Money: integer minor units (cents) of the auction's currency, never floats.

/// An amount in minor units of the auction's currency.
pub type Money = i64;

/// The largest amount any field may carry (10^12 minor units).
pub const MAX_AMOUNT: Money = 1_000_000_000_000;

/// Checks that an amount lies in `1..=MAX_AMOUNT`.
pub fn validate_amount(amount: Money) -> Result<Money, String> {
    if amount < 1 {
        Err(format!("amount must be at least 1, got {amount}"))
    } else if amount > MAX_AMOUNT {
        Err(format!("amount must be at most {MAX_AMOUNT}, got {amount}"))
    } else {
        Ok(amount)
    }
}

/// Checks a currency code: exactly three capital ASCII letters.
pub fn is_valid_currency(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_outside_the_range_are_refused() {
        assert!(validate_amount(0).is_err());
        assert!(validate_amount(-5).is_err());
        assert!(validate_amount(MAX_AMOUNT + 1).is_err());
        assert_eq!(validate_amount(1), Ok(1));
        assert_eq!(validate_amount(MAX_AMOUNT), Ok(MAX_AMOUNT));
    }

    #[test]
    fn currencies_are_three_capital_letters() {
        assert!(is_valid_currency("EUR"));
        assert!(!is_valid_currency("eur"));
        assert!(!is_valid_currency("EURO"));
        assert!(!is_valid_currency("E1R"));
        assert!(!is_valid_currency("ÉUR"));
    }
}
