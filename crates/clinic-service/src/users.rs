//! Account management (the `ketaclinic user` commands and the admin pages).

use clinic_domain::audit::{Actor, AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_domain::password::check_password;
use clinic_domain::user::{Role, Username};
use clinic_store::error::StoreError;
use clinic_store::records::{NewUser, User};
use clinic_store::Store;
use uuid::Uuid;

use crate::auth::hash_password;
use crate::error::ServiceError;
use crate::Clinic;

pub const COMMON_PASSWORDS_FILE: &str = "security/common-passwords.txt";

impl<S: Store> Clinic<S> {
    fn check_password_policy(&self, username: &str, password: &str) -> Result<(), ServiceError> {
        let common = self.data().read_list(COMMON_PASSWORDS_FILE).map_err(ServiceError::Internal)?;
        let common: Vec<&str> = common.iter().map(String::as_str).collect();
        check_password(username, password, &common)?;
        Ok(())
    }

    /// Adds an account after checking the password policy.
    pub async fn add_user(&self, actor: &Actor, username: &str, display_name: &str, role: Role, password: &str) -> Result<User, ServiceError> {
        let username = Username::parse(username)?;
        self.check_password_policy(username.as_str(), password)?;
        self.insert_user(actor, &username, display_name, role, password).await
    }

    /// Adds a demo account with the demo password, skipping the policy; only
    /// the demo seeder calls this, and `serve` refuses that password.
    pub(crate) async fn insert_user(&self, actor: &Actor, username: &Username, display_name: &str, role: Role, password: &str) -> Result<User, ServiceError> {
        let display_name = display_name.trim();
        if display_name.is_empty() || display_name.chars().count() > 100 {
            return Err(clinic_domain::field::FieldErrors::one("display_name", "is required, at most 100 characters").into());
        }
        let now = crate::now();
        let id = Uuid::now_v7();
        let user = NewUser {
            id,
            username: username.as_str().to_string(),
            display_name: display_name.to_string(),
            role,
            password_hash: hash_password(password).await?,
            created_at: now,
        };
        let event = AuditEvent::new(
            Uuid::now_v7(),
            now,
            actor,
            AuditAction::UserCreate,
            AuditTarget::resource("user", id.to_string()),
            Outcome::Success,
            Some(serde_json::json!({ "role": role.as_str() }).to_string()),
        );
        match self.store().create_user(&user, &event).await {
            Err(StoreError::Conflict { .. }) => Err(ServiceError::Conflict {
                code: "username_taken",
                message: format!("the username {} is already taken", username.as_str()),
            }),
            res => Ok(res?),
        }
    }

    pub async fn list_users(&self) -> Result<Vec<User>, ServiceError> {
        Ok(self.store().list_users().await?)
    }

    async fn find_user(&self, username: &str) -> Result<User, ServiceError> {
        let username = Username::parse(username)?;
        self.store()
            .find_credential(username.as_str())
            .await?
            .map(|c| c.user)
            .ok_or(ServiceError::NotFound { resource: "user" })
    }

    pub async fn disable_user(&self, actor: &Actor, username: &str) -> Result<User, ServiceError> {
        let user = self.find_user(username).await?;
        let now = crate::now();
        let event = AuditEvent::new(
            Uuid::now_v7(),
            now,
            actor,
            AuditAction::UserDisable,
            AuditTarget::resource("user", user.id.to_string()),
            Outcome::Success,
            None,
        );
        self.store().set_user_disabled(user.id, true, now, &event).await.map_err(|e| ServiceError::from_store("user", e))
    }

    pub async fn reset_password(&self, actor: &Actor, username: &str, password: &str) -> Result<(), ServiceError> {
        let user = self.find_user(username).await?;
        self.check_password_policy(&user.username, password)?;
        let now = crate::now();
        let event = AuditEvent::new(
            Uuid::now_v7(),
            now,
            actor,
            AuditAction::UserPasswordReset,
            AuditTarget::resource("user", user.id.to_string()),
            Outcome::Success,
            None,
        );
        let hash = hash_password(password).await?;
        self.store().set_password(user.id, &hash, now, &event).await.map_err(|e| ServiceError::from_store("user", e))
    }
}
