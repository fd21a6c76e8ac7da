//! Sign-in, sessions, sign-out and permission checks.

use std::collections::HashMap;
use std::sync::Mutex;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Utc};
use clinic_domain::audit::{Actor, AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_domain::authz::{role_allows, Permission};
use clinic_domain::session::{expires_at, session_state, SessionState};
use clinic_domain::throttle::{prune, retry_after};
use clinic_store::records::{NewSession, User};
use clinic_store::Store;
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::ServiceError;
use crate::{Clinic, DeploymentMode};

/// The demo accounts' password, refused in production (DESIGN.md).
pub const DEMO_PASSWORD: &str = "demo";

/// A signed-in user making a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub token_hash: String,
    pub csrf_token: String,
    pub client_addr: Option<String>,
}

impl Principal {
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.user.id),
            name: self.user.username.clone(),
            role: Some(self.user.role.as_str().to_string()),
            client_addr: self.client_addr.clone(),
        }
    }
}

/// What a successful sign-in hands back. The token is shown once and only
/// its hash is stored.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub token: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

/// Recent failed sign-ins, per account and per client address.
#[derive(Default)]
pub struct Throttles {
    by_account: Mutex<HashMap<String, Vec<DateTime<Utc>>>>,
    by_client: Mutex<HashMap<String, Vec<DateTime<Utc>>>>,
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Hashes a password with argon2id (the crate's default parameters, which
/// follow the OWASP password storage recommendation).
pub async fn hash_password(password: &str) -> Result<String, ServiceError> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|err| ServiceError::Internal(anyhow::anyhow!("hashing failed: {err}")))
    })
    .await
    .map_err(|err| ServiceError::Internal(err.into()))?
}

async fn verify_password(password: &str, hash: &str) -> bool {
    let password = password.to_string();
    let hash = hash.to_string();
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// A valid hash of a random password, verified against when the username is
/// unknown so that a wrong username takes as long as a wrong password.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$6nZPmoH6T5ttd8+mrXa4ZHa3A2ZGDOrb8J5LW6sGXhw";

impl<S: Store> Clinic<S> {
    fn throttle_check(&self, username: &str, client_addr: Option<&str>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let config = self.config();
        let throttles = &self.inner.throttles;
        let by_account = throttles.by_account.lock().ok()?;
        let by_client = throttles.by_client.lock().ok()?;
        let account = by_account.get(username).and_then(|f| retry_after(&config.throttle_per_account, f, now));
        let client = client_addr
            .and_then(|addr| by_client.get(addr))
            .and_then(|f| retry_after(&config.throttle_per_client, f, now));
        account.max(client)
    }

    fn throttle_record_failure(&self, username: &str, client_addr: Option<&str>, now: DateTime<Utc>) {
        let config = self.config();
        let throttles = &self.inner.throttles;
        if let Ok(mut by_account) = throttles.by_account.lock() {
            let failures = by_account.entry(username.to_string()).or_default();
            prune(&config.throttle_per_account, failures, now);
            failures.push(now);
            by_account.retain(|_, f| !f.is_empty());
        }
        if let (Some(addr), Ok(mut by_client)) = (client_addr, throttles.by_client.lock()) {
            let failures = by_client.entry(addr.to_string()).or_default();
            prune(&config.throttle_per_client, failures, now);
            failures.push(now);
            by_client.retain(|_, f| !f.is_empty());
        }
    }

    async fn audit_login_failure(
        &self,
        username: &str,
        user_id: Option<Uuid>,
        client_addr: Option<String>,
        outcome: Outcome,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let actor = Actor { user_id, name: username.to_string(), role: None, client_addr };
        let target = match user_id {
            Some(id) => AuditTarget::resource("user", id.to_string()),
            None => AuditTarget::none("user"),
        };
        let detail = Some(serde_json::json!({ "reason": reason }).to_string());
        let event = AuditEvent::new(Uuid::now_v7(), now, &actor, AuditAction::LoginFailure, target, outcome, detail);
        self.audit_writer().record(vec![event]).await
    }

    /// Signs a user in. Every failure looks the same to the caller; the audit
    /// log keeps the reason.
    #[tracing::instrument(skip_all)]
    pub async fn login(&self, username: &str, password: &str, client_addr: Option<String>) -> Result<SignedIn, ServiceError> {
        let now = crate::now();
        let username = username.trim().to_ascii_lowercase();
        if let Some(retry_after) = self.throttle_check(&username, client_addr.as_deref(), now) {
            self.audit_login_failure(&username, None, client_addr, Outcome::Denied, "throttled", now).await?;
            return Err(ServiceError::Throttled { retry_after });
        }
        let credential = self.store().find_credential(&username).await?;
        let hash = credential.as_ref().map(|c| c.password_hash.as_str()).unwrap_or(DUMMY_HASH);
        let password_ok = verify_password(password, hash).await;
        let failure = match &credential {
            None => Some("unknown_user"),
            Some(_) if !password_ok => Some("wrong_password"),
            Some(c) if c.user.disabled => Some("disabled"),
            Some(_) if self.config().mode == DeploymentMode::Production && password == DEMO_PASSWORD => {
                Some("demo_password_in_production")
            }
            Some(_) => None,
        };
        if let Some(reason) = failure {
            self.throttle_record_failure(&username, client_addr.as_deref(), now);
            let user_id = credential.as_ref().map(|c| c.user.id);
            self.audit_login_failure(&username, user_id, client_addr, Outcome::Failure, reason, now).await?;
            return Err(ServiceError::BadCredentials);
        }
        let Some(credential) = credential else { return Err(ServiceError::BadCredentials) };
        let user = credential.user;
        let token = random_token();
        let csrf_token = random_token();
        let session = NewSession {
            token_hash: hash_token(&token),
            user_id: user.id,
            csrf_token: csrf_token.clone(),
            created_at: now,
            client_addr: client_addr.clone(),
        };
        let actor = Actor {
            user_id: Some(user.id),
            name: user.username.clone(),
            role: Some(user.role.as_str().to_string()),
            client_addr,
        };
        let event = AuditEvent::new(
            Uuid::now_v7(),
            now,
            &actor,
            AuditAction::LoginSuccess,
            AuditTarget::resource("user", user.id.to_string()),
            Outcome::Success,
            None,
        );
        self.store().create_session(&session, &event).await?;
        let policy = &self.config().session;
        Ok(SignedIn { token, csrf_token, expires_at: expires_at(policy, now, now), user })
    }

    /// A second person signing with their own credentials at the moment, for
    /// a witnessed ledger entry: no session is made, failures count towards
    /// the same throttle as sign-ins and are audited with their reason. The
    /// witness must be someone other than `actor` whose role may witness.
    pub(crate) async fn verify_witness(
        &self,
        actor: &Principal,
        username: &str,
        password: &str,
        permission: Permission,
    ) -> Result<User, ServiceError> {
        let now = crate::now();
        let username = username.trim().to_ascii_lowercase();
        if username.is_empty() || password.is_empty() {
            return Err(ServiceError::Invalid(clinic_domain::field::FieldErrors::one(
                "witness_username",
                "is required: the witness signs with their own username and password",
            )));
        }
        let client_addr = actor.client_addr.clone();
        if let Some(retry_after) = self.throttle_check(&username, client_addr.as_deref(), now) {
            self.audit_login_failure(&username, None, client_addr, Outcome::Denied, "witness_throttled", now).await?;
            return Err(ServiceError::Throttled { retry_after });
        }
        let credential = self.store().find_credential(&username).await?;
        let hash = credential.as_ref().map(|c| c.password_hash.as_str()).unwrap_or(DUMMY_HASH);
        let password_ok = verify_password(password, hash).await;
        let failure = match &credential {
            None => Some("witness_unknown_user"),
            Some(_) if !password_ok => Some("witness_wrong_password"),
            Some(c) if c.user.disabled => Some("witness_disabled"),
            Some(_) if self.config().mode == DeploymentMode::Production && password == DEMO_PASSWORD => {
                Some("witness_demo_password_in_production")
            }
            Some(_) => None,
        };
        if let Some(reason) = failure {
            self.throttle_record_failure(&username, client_addr.as_deref(), now);
            let user_id = credential.as_ref().map(|c| c.user.id);
            self.audit_login_failure(&username, user_id, client_addr, Outcome::Failure, reason, now).await?;
            return Err(ServiceError::Invalid(clinic_domain::field::FieldErrors::one(
                "witness_password",
                "the witness's username and password were not accepted",
            )));
        }
        let Some(credential) = credential else { return Err(ServiceError::BadCredentials) };
        let user = credential.user;
        if user.id == actor.user.id {
            return Err(ServiceError::Invalid(clinic_domain::field::FieldErrors::one(
                "witness_username",
                "must be a second person, not the one recording the entry",
            )));
        }
        if !role_allows(user.role, permission) {
            return Err(ServiceError::Invalid(clinic_domain::field::FieldErrors::one(
                "witness_username",
                format!("{} is a {} and may not witness controlled-substance entries (physicians and nurses may)", user.username, user.role.as_str()),
            )));
        }
        Ok(user)
    }

    /// Finds the session of a bearer token or cookie, ending it if it timed out.
    pub async fn authenticate(&self, token: &str, client_addr: Option<String>) -> Result<Principal, ServiceError> {
        let now = crate::now();
        let token_hash = hash_token(token);
        let session = self.store().get_session(&token_hash).await?.ok_or(ServiceError::Unauthenticated)?;
        let policy = &self.config().session;
        match session_state(policy, session.created_at, session.last_seen_at, now) {
            SessionState::Active => {}
            SessionState::IdleExpired | SessionState::AbsoluteExpired => {
                self.store().delete_session(&token_hash, None).await?;
                return Err(ServiceError::Unauthenticated);
            }
        }
        if session.user.disabled {
            return Err(ServiceError::Unauthenticated);
        }
        // Recording activity costs a write; once a minute is enough for an idle timeout.
        if now - session.last_seen_at > chrono::Duration::seconds(60) {
            self.store().touch_session(&token_hash, now).await?;
        }
        Ok(Principal { user: session.user, token_hash, csrf_token: session.csrf_token, client_addr })
    }

    pub async fn logout(&self, principal: &Principal) -> Result<(), ServiceError> {
        let event = AuditEvent::new(
            Uuid::now_v7(),
            crate::now(),
            &principal.actor(),
            AuditAction::Logout,
            AuditTarget::resource("user", principal.user.id.to_string()),
            Outcome::Success,
            None,
        );
        self.store().delete_session(&principal.token_hash, Some(&event)).await?;
        Ok(())
    }

    /// Checks the permission table; a denial is audited and refused.
    pub async fn authorize(&self, principal: &Principal, permission: Permission, resource: &str) -> Result<(), ServiceError> {
        if role_allows(principal.user.role, permission) {
            return Ok(());
        }
        let event = AuditEvent::new(
            Uuid::now_v7(),
            crate::now(),
            &principal.actor(),
            AuditAction::PermissionDenied,
            AuditTarget::none("route"),
            Outcome::Denied,
            Some(serde_json::json!({ "permission": permission.as_str(), "route": resource }).to_string()),
        );
        self.audit_writer().record(vec![event]).await?;
        Err(ServiceError::Forbidden { permission })
    }
}
