//! A short built-in list of the passwords people pick most often (from the
//! published top lists of leaked passwords), kept to those of at least
//! eight characters: shorter ones already fail the length rule. Compared
//! case-insensitively, so `Password1` counts as `password1`.

/// The list, lowercase.
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password12",
    "password123",
    "password1234",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "pa$$word",
    "passpass",
    "12345678",
    "123456789",
    "1234567890",
    "12345678910",
    "0123456789",
    "0987654321",
    "9876543210",
    "987654321",
    "87654321",
    "11111111",
    "1111111111",
    "00000000",
    "22222222",
    "55555555",
    "66666666",
    "77777777",
    "88888888",
    "99999999",
    "999999999",
    "12121212",
    "11223344",
    "12341234",
    "12344321",
    "123123123",
    "123321123",
    "147258369",
    "123654789",
    "741852963",
    "789456123",
    "159357456",
    "123456789a",
    "1234567a",
    "a1234567",
    "aa123456",
    "abc12345",
    "abcd1234",
    "1234abcd",
    "1234qwer",
    "qwer1234",
    "1q2w3e4r",
    "1q2w3e4r5t",
    "1q2w3e4r5t6y",
    "q1w2e3r4",
    "q1w2e3r4t5",
    "q1w2e3r4t5y6",
    "1qaz2wsx",
    "1qazxsw2",
    "zaq12wsx",
    "zaq1zaq1",
    "qazwsxedc",
    "qweasdzxc",
    "123qweasd",
    "qwertyui",
    "qwertyuiop",
    "qwerty12",
    "qwerty123",
    "qwerty1234",
    "asdfghjk",
    "asdfghjkl",
    "asdf1234",
    "zxcvbnm1",
    "zxcvbnm123",
    "iloveyou",
    "iloveyou1",
    "iloveyou2",
    "sunshine",
    "sunshine1",
    "princess",
    "princess1",
    "football",
    "football1",
    "baseball",
    "baseball1",
    "basketball",
    "superman",
    "superman1",
    "starwars",
    "trustno1",
    "welcome1",
    "welcome123",
    "letmein1",
    "letmein123",
    "admin123",
    "admin1234",
    "administrator",
    "changeme",
    "changeme1",
    "computer",
    "internet",
    "whatever",
    "chocolate",
    "butterfly",
    "michelle",
    "jennifer",
    "liverpool",
    "minecraft",
    "pokemon1",
    "charlie1",
    "jordan23",
    "access14",
    "testtest",
    "test1234",
    "hello123",
    "iloveu123",
];

/// Whether `password` is on the list (ignoring case).
pub fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    COMMON.contains(&lower.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_lowercase_and_long_enough_to_matter() {
        for entry in COMMON {
            assert_eq!(entry.to_lowercase(), *entry);
            assert!(
                entry.chars().count() >= 8,
                "{entry} fails the length rule anyway"
            );
        }
        assert!(COMMON.len() >= 100);
    }

    #[test]
    fn common_passwords_are_found_whatever_their_case() {
        for password in [
            "password",
            "PASSWORD1",
            "Qwertyuiop",
            "iLoveYou",
            "12345678",
        ] {
            assert!(is_common(password), "{password}");
        }
        for password in ["password-123", "admin-password-1", "correct horse battery"] {
            assert!(!is_common(password), "{password}");
        }
    }
}
