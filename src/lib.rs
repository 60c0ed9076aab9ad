//! securityprofile-operator library
