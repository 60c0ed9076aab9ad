//! Helm chart, Argo CD health check, Dockerfile and IAM policy checks (owned by the packaging work).
