//! Other AWS accounts: a namespace annotated with a role ARN is served by an [`Iot`] whose
//! credentials come from STS `AssumeRole` on top of the operator's own credentials. Each
//! assumed role has its own SDK clients and pacer (quotas are per account and region); the
//! SDK's identity cache keeps the temporary credentials and refreshes them before they expire.

use super::client::{Iot, IotError};
use aws_config::sts::AssumeRoleProvider;
use aws_sdk_iot::config::{ProvideCredentials, SharedCredentialsProvider};
use std::sync::Arc;

/// Session name of the operator's assumed-role sessions (visible in CloudTrail).
const SESSION_NAME: &str = "securityprofile-operator";

/// A role to assume, as a namespace's annotations name it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Role {
    pub arn: String,
    pub external_id: Option<String>,
}

impl Role {
    /// The account of the role (`arn:aws:iam::ACCOUNT:role/NAME`), if the ARN is one.
    pub fn account(&self) -> Option<&str> {
        let rest = self.arn.split_once("::")?.1;
        let (account, path) = rest.split_once(':')?;
        (account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && path.starts_with("role/"))
        .then_some(account)
    }
}

impl Iot {
    /// The facade acting as `role`: created (and the role assumed once, so that a role the
    /// operator may not assume is reported at once) on first use, then shared.
    pub async fn assume(&self, role: &Role) -> Result<Arc<Iot>, IotError> {
        if role.account().is_none() {
            return Err(IotError::AssumeRole {
                role: role.arn.clone(),
                message: "not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)".into(),
            });
        }
        let mut assumed = self.assumed.lock().await;
        if let Some(iot) = assumed.get(role) {
            return Ok(iot.clone());
        }
        let mut builder = AssumeRoleProvider::builder(&role.arn)
            .session_name(SESSION_NAME)
            .configure(&self.base);
        if let Some(id) = &role.external_id {
            builder = builder.external_id(id);
        }
        let provider = builder.build().await;
        provider
            .provide_credentials()
            .await
            .map_err(|e| IotError::AssumeRole {
                role: role.arn.clone(),
                message: aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
            })?;
        let base = self
            .base
            .clone()
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
        let iot = Iot::new(base, self.options.clone(), self.metrics.clone())
            .with_fence(self.fence.clone());
        let iot = Arc::new(iot);
        assumed.insert(role.clone(), iot.clone());
        Ok(iot)
    }
}

#[cfg(test)]
mod tests {
    use super::Role;

    #[test]
    fn the_account_is_read_from_the_role_arn() {
        let role = |arn: &str| Role {
            arn: arn.into(),
            external_id: None,
        };
        assert_eq!(
            role("arn:aws:iam::111122223333:role/iot/fleet").account(),
            Some("111122223333")
        );
        assert_eq!(role("arn:aws:iam::1111:role/x").account(), None);
        assert_eq!(role("arn:aws:iam::111122223333:user/x").account(), None);
        assert_eq!(role("fleet").account(), None);
    }
}
