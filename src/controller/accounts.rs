//! Which AWS identity serves a namespace: its `iot.awscc.io/role-arn` annotation (set by the
//! cluster admin), checked against the admin's role allowlist.

use super::error::Error;
use super::namespace::NamespaceFacts;
use crate::api::{EXTERNAL_ID_ANNOTATION, ROLE_ARN_ANNOTATION};
use crate::aws::{IotError, Role};
use crate::reconcile::guard::ClusterRules;

/// The role the namespace's annotations name, if any.
pub(crate) fn role_of(ns: &NamespaceFacts) -> Option<Role> {
    let annotations = ns.annotations();
    let arn = annotations
        .get(ROLE_ARN_ANNOTATION)
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())?;
    Some(Role {
        arn: arn.to_string(),
        external_id: annotations
            .get(EXTERNAL_ID_ANNOTATION)
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty()),
    })
}

/// The role must be a role ARN and pass the admin's role allowlist (`--allowed-role-arns`,
/// the same list that bounds the roles profiles may pass to AWS IoT).
pub(crate) fn check_allowed(role: &Role, rules: &ClusterRules) -> Result<(), Error> {
    if role.account().is_none() {
        return Err(Error::Iot(IotError::AssumeRole {
            role: role.arn.clone(),
            message: "not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)".into(),
        }));
    }
    if !rules.lists.role_arns.allows(&role.arn) {
        return Err(Error::Iot(IotError::RoleNotAllowed(role.arn.clone())));
    }
    Ok(())
}
