//! Roles and HL7 v3 purpose-of-use codes.

use core::fmt;

/// The role a user signed in with. A person who is both a patient and a proxy has two
/// accounts or switches role at sign-in, because one access token carries one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A patient acting on their own record.
    Patient,
    /// A parent, guardian, caregiver or representative acting under a proxy grant.
    Proxy,
    /// A clinician who belongs to one or more care teams.
    Clinician,
    /// An administrator of accounts, roles and care teams. Sees no clinical content.
    Admin,
    /// A compliance officer who reviews the audit log. Sees no clinical content.
    ComplianceOfficer,
}

impl Role {
    /// Every role, for decision tables and exhaustive tests.
    pub const ALL: [Role; 5] = [
        Role::Patient,
        Role::Proxy,
        Role::Clinician,
        Role::Admin,
        Role::ComplianceOfficer,
    ];

    /// Returns the role's wire name, as used in the `role` token claim.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Patient => "patient",
            Role::Proxy => "proxy",
            Role::Clinician => "clinician",
            Role::Admin => "admin",
            Role::ComplianceOfficer => "compliance_officer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why information is used, as an HL7 v3 `PurposeOfUse` code (code system
/// `http://terminology.hl7.org/CodeSystem/v3-ActReason`). Each authorization decision
/// carries one so the audit record states the purpose of every access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum PurposeOfUse {
    /// `TREAT`: treatment, for clinicians on the patient's care team.
    #[serde(rename = "TREAT")]
    Treatment,
    /// `ETREAT`: emergency treatment, for break-the-glass access.
    #[serde(rename = "ETREAT")]
    EmergencyTreatment,
    /// `HPAYMT`: healthcare payment.
    #[serde(rename = "HPAYMT")]
    Payment,
    /// `HOPERAT`: healthcare operations.
    #[serde(rename = "HOPERAT")]
    Operations,
    /// `PATRQT`: requested by the patient, for patients acting on their own record.
    #[serde(rename = "PATRQT")]
    PatientRequested,
    /// `FAMRQT`: requested by a family member the patient authorized, for proxies.
    #[serde(rename = "FAMRQT")]
    FamilyRequested,
    /// `HCOMPL`: health compliance, for compliance officers reviewing the audit log.
    #[serde(rename = "HCOMPL")]
    Compliance,
    /// `HSYSADMIN`: administration of the electronic systems, for admins.
    #[serde(rename = "HSYSADMIN")]
    SystemAdministration,
}

impl PurposeOfUse {
    /// The FHIR code system of these codes.
    pub const SYSTEM: &'static str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";

    /// Returns the HL7 code, such as `TREAT`.
    pub fn code(self) -> &'static str {
        match self {
            PurposeOfUse::Treatment => "TREAT",
            PurposeOfUse::EmergencyTreatment => "ETREAT",
            PurposeOfUse::Payment => "HPAYMT",
            PurposeOfUse::Operations => "HOPERAT",
            PurposeOfUse::PatientRequested => "PATRQT",
            PurposeOfUse::FamilyRequested => "FAMRQT",
            PurposeOfUse::Compliance => "HCOMPL",
            PurposeOfUse::SystemAdministration => "HSYSADMIN",
        }
    }

    /// Returns the HL7 display text, such as `treatment`.
    pub fn display(self) -> &'static str {
        match self {
            PurposeOfUse::Treatment => "treatment",
            PurposeOfUse::EmergencyTreatment => "emergency treatment",
            PurposeOfUse::Payment => "healthcare payment",
            PurposeOfUse::Operations => "healthcare operations",
            PurposeOfUse::PatientRequested => "patient requested",
            PurposeOfUse::FamilyRequested => "family requested",
            PurposeOfUse::Compliance => "health compliance",
            PurposeOfUse::SystemAdministration => "health system administration",
        }
    }

    /// Returns the purpose under which a role normally acts. Break-the-glass access
    /// overrides this with [`PurposeOfUse::EmergencyTreatment`].
    pub fn for_role(role: Role) -> Self {
        match role {
            Role::Patient => PurposeOfUse::PatientRequested,
            Role::Proxy => PurposeOfUse::FamilyRequested,
            Role::Clinician => PurposeOfUse::Treatment,
            Role::Admin => PurposeOfUse::SystemAdministration,
            Role::ComplianceOfficer => PurposeOfUse::Compliance,
        }
    }
}

impl fmt::Display for PurposeOfUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    reason = "a test reports an unexpected error by panicking"
)]
mod tests {
    use super::*;

    #[test]
    fn purpose_serializes_as_hl7_code() {
        let json = serde_json::to_string(&PurposeOfUse::EmergencyTreatment).unwrap();
        assert_eq!(json, "\"ETREAT\"");
    }

    #[test]
    fn role_serializes_as_snake_case() {
        let json = serde_json::to_string(&Role::ComplianceOfficer).unwrap();
        assert_eq!(json, "\"compliance_officer\"");
    }

    #[test]
    fn serialized_code_matches_code_method() {
        let all = [
            PurposeOfUse::Treatment,
            PurposeOfUse::EmergencyTreatment,
            PurposeOfUse::Payment,
            PurposeOfUse::Operations,
            PurposeOfUse::PatientRequested,
            PurposeOfUse::FamilyRequested,
            PurposeOfUse::Compliance,
            PurposeOfUse::SystemAdministration,
        ];
        for purpose in all {
            let json = serde_json::to_string(&purpose).unwrap();
            assert_eq!(json, format!("\"{}\"", purpose.code()));
        }
    }
}
