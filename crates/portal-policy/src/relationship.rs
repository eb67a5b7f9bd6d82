//! Facts about patients and proxy grants that the policy decides on.
//!
//! Components load these from their stores for each request; the policy functions never
//! fetch anything themselves.

use time::Date;

use crate::ids::{CareTeamId, GrantId, PatientId, UserId};

/// Age below which a guardian holds full proxy access to a child's record.
pub const GUARDIAN_FULL_ACCESS_BELOW_AGE: u8 = 12;

/// Age of majority, at which guardian access ends.
pub const AGE_OF_MAJORITY: u8 = 18;

/// Facts about the patient whose record is accessed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientFacts {
    /// The patient record.
    pub id: PatientId,
    /// Date of birth, which drives the rules for minors.
    pub birth_date: Date,
    /// Care teams the patient is assigned to.
    pub care_teams: Vec<CareTeamId>,
}

impl PatientFacts {
    /// Returns the patient's age band on `today`.
    pub fn age_band(&self, today: Date) -> AgeBand {
        AgeBand::from_age(age_in_years(self.birth_date, today))
    }
}

/// The age bands that change what a guardian may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgeBand {
    /// Under 12: a guardian holds full proxy access.
    Child,
    /// 12 to 17: guardian access excludes sensitive categories and needs the teen's
    /// recorded consent.
    Teen,
    /// 18 and over: guardian access has ended.
    Adult,
}

impl AgeBand {
    /// Returns the band for an age in completed years.
    pub fn from_age(age: u32) -> Self {
        if age < u32::from(GUARDIAN_FULL_ACCESS_BELOW_AGE) {
            AgeBand::Child
        } else if age < u32::from(AGE_OF_MAJORITY) {
            AgeBand::Teen
        } else {
            AgeBand::Adult
        }
    }
}

/// Returns the age in completed years on `today` of someone born on `birth_date`.
///
/// A birthday counts as reached when `(month, day)` of `today` is at or after that of the
/// birth date, so someone born on 29 February reaches each new age on 1 March in common
/// years. A birth date after `today` gives 0. `today` should be the calendar date where
/// the patient is treated, because a birthday begins at local midnight.
pub fn age_in_years(birth_date: Date, today: Date) -> u32 {
    if birth_date >= today {
        return 0;
    }

    let years = today.year() - birth_date.year();
    let birthday_reached =
        (today.month() as u8, today.day()) >= (birth_date.month() as u8, birth_date.day());
    let age = if birthday_reached { years } else { years - 1 };

    u32::try_from(age).unwrap_or(0)
}

/// Parses a calendar date written `YYYY-MM-DD`, as birth dates are stored and exchanged.
/// Anything else, including dates that do not exist, gives `None`.
pub fn parse_date(text: &str) -> Option<Date> {
    let mut parts = text.split('-');
    let (Some(year), Some(month), Some(day), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let digits =
        |part: &str, len: usize| part.len() == len && part.bytes().all(|b| b.is_ascii_digit());
    if !(digits(year, 4) && digits(month, 2) && digits(day, 2)) {
        return None;
    }
    let month = time::Month::try_from(month.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(year.parse().ok()?, month, day.parse().ok()?).ok()
}

/// The legal basis of a proxy grant, which selects the rules that apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantKind {
    /// Parent or legal guardian of a minor. Access follows the child's age band and ends
    /// at 18.
    Guardian,
    /// Caregiver, such as a relative helping an ill patient. Must carry an expiry.
    Caregiver,
    /// Representative the adult patient chose, with the scopes the patient granted.
    Representative,
}

/// The actions a proxy may perform under a grant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyScopes {
    /// Read threads and their messages.
    pub read_messages: bool,
    /// Send messages in the patient's threads.
    pub send_messages: bool,
    /// Read and download the patient's files.
    pub read_files: bool,
    /// Upload files to the patient's record.
    pub upload_files: bool,
}

impl ProxyScopes {
    /// Every scope, the access a guardian of a child under 12 holds.
    pub const ALL: ProxyScopes = ProxyScopes {
        read_messages: true,
        send_messages: true,
        read_files: true,
        upload_files: true,
    };
}

/// The consent behind a grant: who agreed and when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consent {
    /// The user who consented: the adult patient, or a guardian or admin for a minor.
    pub consented_by: UserId,
    /// When consent was given, in Unix seconds.
    pub consented_at: i64,
}

/// Access that one user has to one patient's record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyGrant {
    /// The grant.
    pub id: GrantId,
    /// The patient whose record the grant opens.
    pub patient: PatientId,
    /// The proxy the grant is given to.
    pub grantee: UserId,
    /// The legal basis, which selects the age and expiry rules.
    pub kind: GrantKind,
    /// The actions the proxy may perform.
    pub scopes: ProxyScopes,
    /// The consent that created the grant.
    pub consent: Consent,
    /// When a teen (12 to 17) consented to a guardian's access, in Unix seconds.
    pub teen_consent_at: Option<i64>,
    /// When the grant stops working, in Unix seconds. Required for caregivers.
    pub expires_at: Option<i64>,
    /// When the grant was revoked, in Unix seconds.
    pub revoked_at: Option<i64>,
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    reason = "a test reports an unexpected error by panicking"
)]
mod tests {
    use super::*;
    use time::Month;

    fn date(year: i32, month: Month, day: u8) -> Date {
        Date::from_calendar_date(year, month, day).unwrap()
    }

    #[test]
    fn age_increases_on_birthday() {
        let birth = date(2010, Month::June, 15);
        assert_eq!(age_in_years(birth, date(2022, Month::June, 14)), 11);
        assert_eq!(age_in_years(birth, date(2022, Month::June, 15)), 12);
    }

    #[test]
    fn leap_day_birthday_counts_on_march_first() {
        let birth = date(2008, Month::February, 29);
        assert_eq!(age_in_years(birth, date(2026, Month::February, 28)), 17);
        assert_eq!(age_in_years(birth, date(2026, Month::March, 1)), 18);
    }

    #[test]
    fn future_birth_date_gives_zero() {
        let birth = date(2030, Month::January, 1);
        assert_eq!(age_in_years(birth, date(2026, Month::January, 1)), 0);
    }

    #[test]
    fn dates_parse_only_in_full_form() {
        assert_eq!(parse_date("2010-06-15"), Some(date(2010, Month::June, 15)));
        assert_eq!(
            parse_date("2024-02-29"),
            Some(date(2024, Month::February, 29))
        );
        for text in [
            "2023-02-29",
            "2010-6-15",
            "2010-06-15T00:00",
            "10-06-15",
            "",
            "2010-13-01",
            "+2010-06-15",
        ] {
            assert_eq!(parse_date(text), None, "{text}");
        }
        assert_eq!(date(2010, Month::June, 5).to_string(), "2010-06-05");
    }

    #[test]
    fn age_bands_split_at_12_and_18() {
        assert_eq!(AgeBand::from_age(11), AgeBand::Child);
        assert_eq!(AgeBand::from_age(12), AgeBand::Teen);
        assert_eq!(AgeBand::from_age(17), AgeBand::Teen);
        assert_eq!(AgeBand::from_age(18), AgeBand::Adult);
    }
}
