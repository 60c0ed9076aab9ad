//! Which AWS identity serves a namespace: its `iot.awscc.io/role-arn` annotation (set by the
//! cluster admin), checked against the admin's role allowlist.

use super::error::Error;
use crate::api::{EXTERNAL_ID_ANNOTATION, ROLE_ARN_ANNOTATION};
use crate::aws::{IotError, Role};
use crate::reconcile::guard::ClusterRules;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use kube::{Client, ResourceExt};

/// The role the namespace's annotations name, if any.
pub(crate) async fn role_of(client: &Client, namespace: &str) -> Result<Option<Role>, Error> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let Some(ns) = namespaces.get_opt(namespace).await? else {
        return Ok(None);
    };
    let annotations = ns.annotations();
    let Some(arn) = annotations
        .get(ROLE_ARN_ANNOTATION)
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
    else {
        return Ok(None);
    };
    Ok(Some(Role {
        arn: arn.to_string(),
        external_id: annotations
            .get(EXTERNAL_ID_ANNOTATION)
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty()),
    }))
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
