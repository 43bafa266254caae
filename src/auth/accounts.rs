//! Account operations: register, log in, log out, resolve a token, and the
//! start-up admin; and the input rules for usernames and passwords.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::common_passwords::is_common;
use super::password::{hash_password_blocking, verify_password_blocking};
use super::token::{hash_token, new_token};
use crate::domain::text::{check_text, ControlCharacter, Lines};
use crate::store::{NewSession, NewUser, Role, Store, StoreError, User};

/// Passwords shorter than this are refused (`weak_password`).
pub const MIN_PASSWORD_LEN: usize = 8;
/// Passwords longer than this are refused, to bound hashing work.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// A field (`username` or `password`) carries a control character.
    #[error("{field} {source}")]
    ControlCharacter {
        field: &'static str,
        source: ControlCharacter,
    },
    #[error("usernames are 3 to 32 characters of letters, digits, '_', '.' and '-'")]
    InvalidUsername,
    #[error("passwords must be at least {MIN_PASSWORD_LEN} characters")]
    WeakPassword,
    #[error("the password must not be the username")]
    PasswordIsUsername,
    #[error("the password must not be only spaces")]
    BlankPassword,
    #[error("that password is one of the most common ones; choose another")]
    CommonPassword,
    #[error("passwords must be at most {MAX_PASSWORD_LEN} characters")]
    PasswordTooLong,
    #[error("that username is taken")]
    UsernameTaken,
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("there is no user named {0}")]
    NoSuchUser(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing failed")]
    Hashing(#[source] anyhow::Error),
}

impl AccountError {
    /// Whether this is one of the password rules (`weak_password`).
    pub fn is_weak_password(&self) -> bool {
        matches!(
            self,
            Self::WeakPassword
                | Self::PasswordIsUsername
                | Self::BlankPassword
                | Self::CommonPassword
        )
    }
}

/// Refuses control characters in the credentials (any of them: both are
/// single-line). Checked before the other rules, by register and log in.
pub fn check_credentials_text(username: &str, password: &str) -> Result<(), AccountError> {
    check_text(username, Lines::Single).map_err(|source| AccountError::ControlCharacter {
        field: "username",
        source,
    })?;
    check_text(password, Lines::Single).map_err(|source| AccountError::ControlCharacter {
        field: "password",
        source,
    })
}

/// Checks the username rule of docs/api.md: 3–32 of `[A-Za-z0-9_.-]`.
pub fn validate_username(username: &str) -> Result<(), AccountError> {
    let ok = (3..=32).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(AccountError::InvalidUsername)
    }
}

/// Checks the password rules for `username`'s new password: 8 to 1024
/// characters, not only whitespace, not the username (ignoring case), not
/// one of the most common passwords.
pub fn validate_password(username: &str, password: &str) -> Result<(), AccountError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_LEN {
        Err(AccountError::WeakPassword)
    } else if chars > MAX_PASSWORD_LEN {
        Err(AccountError::PasswordTooLong)
    } else if password.chars().all(char::is_whitespace) {
        Err(AccountError::BlankPassword)
    } else if password.to_lowercase() == username.to_lowercase() {
        Err(AccountError::PasswordIsUsername)
    } else if is_common(password) {
        Err(AccountError::CommonPassword)
    } else {
        Ok(())
    }
}

/// Account operations over the store.
#[derive(Clone)]
pub struct Accounts {
    store: Arc<dyn Store>,
    session_ttl: Duration,
    /// Verified against when a username is unknown, so both paths cost the same.
    dummy_hash: Arc<str>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts")
            .field("session_ttl", &self.session_ttl)
            .finish_non_exhaustive()
    }
}

impl Accounts {
    pub async fn new(store: Arc<dyn Store>, session_ttl: Duration) -> anyhow::Result<Self> {
        let dummy_hash = hash_password_blocking("not-a-real-password".into()).await?;
        Ok(Self {
            store,
            session_ttl,
            dummy_hash: dummy_hash.into(),
        })
    }

    pub async fn register(
        &self,
        username: &str,
        password: &str,
        role: Role,
    ) -> Result<User, AccountError> {
        check_credentials_text(username, password)?;
        validate_username(username)?;
        validate_password(username, password)?;
        let password_hash = hash_password_blocking(password.to_owned())
            .await
            .map_err(AccountError::Hashing)?;
        let user = NewUser {
            id: uuid::Uuid::now_v7(),
            username: username.to_owned(),
            password_hash,
            role,
            created_at: Utc::now(),
        };
        match self.store.create_user(&user).await {
            Ok(user) => Ok(user),
            Err(StoreError::Conflict(_)) => Err(AccountError::UsernameTaken),
            Err(other) => Err(other.into()),
        }
    }

    /// Checks the credentials and opens a session; returns its token.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<(String, User), AccountError> {
        check_credentials_text(username, password)?;
        let found = if validate_username(username).is_ok() && password.len() <= MAX_PASSWORD_LEN * 4
        {
            self.store.user_by_username(username).await?
        } else {
            None
        };
        let (stored_hash, user) = match found {
            Some(found) => (found.password_hash, Some(found.user)),
            None => (self.dummy_hash.to_string(), None),
        };
        let verified = verify_password_blocking(password.to_owned(), stored_hash).await;
        let Some(user) = user.filter(|_| verified) else {
            return Err(AccountError::InvalidCredentials);
        };
        let token = new_token();
        let now = Utc::now();
        self.store
            .create_session(&NewSession {
                token_hash: hash_token(&token),
                user_id: user.id,
                created_at: now,
                expires_at: now + self.session_ttl,
            })
            .await?;
        Ok((token, user))
    }

    pub async fn logout(&self, token: &str) -> Result<(), AccountError> {
        self.store.delete_session(&hash_token(token)).await?;
        Ok(())
    }

    /// The user a token belongs to, if it is a live session.
    pub async fn user_for_token(&self, token: &str) -> Result<Option<User>, AccountError> {
        Ok(self.session_for_token(token).await?.map(|(user, _)| user))
    }

    /// The user of a live session, and when the session expires.
    pub async fn session_for_token(
        &self,
        token: &str,
    ) -> Result<Option<(User, DateTime<Utc>)>, AccountError> {
        if token.is_empty() || token.len() > 256 {
            return Ok(None);
        }
        Ok(self
            .store
            .session_user(&hash_token(token), Utc::now())
            .await?)
    }

    /// Gives `username` a new password (checked by the rules of
    /// [`validate_password`]) and ends every session of that user. Returns
    /// the user and how many sessions were ended.
    pub async fn set_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<(User, u64), AccountError> {
        check_credentials_text(username, password)?;
        let user = self.existing_user(username).await?;
        validate_password(&user.username, password)?;
        let password_hash = hash_password_blocking(password.to_owned())
            .await
            .map_err(AccountError::Hashing)?;
        if !self
            .store
            .set_password_hash(user.id, &password_hash)
            .await?
        {
            return Err(AccountError::NoSuchUser(username.to_owned()));
        }
        let ended = self.store.delete_user_sessions(user.id).await?;
        Ok((user, ended))
    }

    /// Makes an existing user an admin. Returns the user, and whether it
    /// was a bidder until now.
    pub async fn promote(&self, username: &str) -> Result<(User, bool), AccountError> {
        let user = self.existing_user(username).await?;
        if user.is_admin() {
            return Ok((user, false));
        }
        let promoted = self
            .store
            .set_user_role(user.id, Role::Admin)
            .await?
            .ok_or_else(|| AccountError::NoSuchUser(username.to_owned()))?;
        Ok((promoted, true))
    }

    async fn existing_user(&self, username: &str) -> Result<User, AccountError> {
        Ok(self
            .store
            .user_by_username(username)
            .await?
            .ok_or_else(|| AccountError::NoSuchUser(username.to_owned()))?
            .user)
    }

    /// Creates `username` as an admin unless that user exists already.
    /// Returns whether a user was created.
    pub async fn ensure_admin(&self, username: &str, password: &str) -> Result<bool, AccountError> {
        if self.store.user_by_username(username).await?.is_some() {
            return Ok(false);
        }
        match self.register(username, password, Role::Admin).await {
            Ok(_) => Ok(true),
            Err(AccountError::UsernameTaken) => Ok(false),
            Err(other) => Err(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_api_rule() {
        for good in ["abc", "a.b-c_d", "ABCdef123", &"x".repeat(32)] {
            assert!(validate_username(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            "",
            "has space",
            "émile",
            "semi;colon",
            &"x".repeat(33),
            "<b>",
        ] {
            assert!(validate_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_need_eight_characters() {
        assert!(matches!(
            validate_password("pat", "1234567"),
            Err(AccountError::WeakPassword)
        ));
        assert!(validate_password("pat", "tulip-84").is_ok());
        assert!(validate_password("pat", &"p".repeat(MAX_PASSWORD_LEN + 1)).is_err());
    }

    #[test]
    fn weak_passwords_are_refused() {
        for (username, password) in [
            ("Harriet_1", "harriet_1"),
            ("harriet_1", "HARRIET_1"),
            ("pat", "        "),
            ("pat", " \u{a0}\u{2003}      "),
            ("pat", "password"),
            ("pat", "Password1"),
            ("pat", "12345678"),
            ("pat", "QWERTYUIOP"),
            ("pat", "iloveyou"),
        ] {
            let refused = validate_password(username, password).expect_err(password);
            assert!(refused.is_weak_password(), "{password}: {refused}");
        }
        assert!(validate_password("harriet_1", "harriet_12").is_ok());
    }

    #[test]
    fn control_characters_are_refused_before_the_other_rules() {
        for (username, password) in [
            ("pat\0", "tulip-84"),
            ("pat", "tulip\0-84"),
            ("pat", "tulip\t-84"),
            ("\u{1b}pat", "tulip-84"),
        ] {
            assert!(matches!(
                check_credentials_text(username, password),
                Err(AccountError::ControlCharacter { .. })
            ));
        }
        assert!(check_credentials_text("pat", "tulip-84").is_ok());
    }
}
