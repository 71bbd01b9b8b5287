//! The registration form shared by invitations and self-registration: what a person types,
//! and the checks that turn it into a [`Registration`] or field messages.

use tessera_domain::FieldErrors;
use tessera_domain::user::{
    EmailAddress, MobileNumber, OffshoreDetails, Username, parse_person_name, parse_text,
};

/// Calling codes offered by the mobile field's picker; Singapore first.
pub const COUNTRY_CALLING_CODES: &[(&str, &str)] = &[
    ("+65", "Singapore"),
    ("+60", "Malaysia"),
    ("+62", "Indonesia"),
    ("+63", "Philippines"),
    ("+66", "Thailand"),
    ("+84", "Vietnam"),
    ("+86", "China"),
    ("+852", "Hong Kong"),
    ("+886", "Taiwan"),
    ("+91", "India"),
    ("+81", "Japan"),
    ("+82", "South Korea"),
    ("+61", "Australia"),
    ("+64", "New Zealand"),
    ("+44", "United Kingdom"),
    ("+1", "United States / Canada"),
];

/// What the registration page submits. Fields the page did not show stay empty.
#[derive(Clone, Debug, Default)]
pub struct RegistrationForm {
    pub username: String,
    pub given_name: String,
    pub family_name: String,
    /// One of [`COUNTRY_CALLING_CODES`]; ignored when `mobile` starts with `+`.
    pub mobile_country: String,
    pub mobile: String,
    pub department: String,
    pub reporting_officer_name: String,
    pub reporting_officer_email: String,
    pub company_address: String,
}

#[derive(Clone, Debug)]
pub(crate) struct Registration {
    pub username: Option<Username>,
    pub given_name: String,
    pub family_name: String,
    pub mobile: MobileNumber,
    pub department: String,
    pub offshore_contact: Option<(String, EmailAddress, String)>,
}

/// Joins the picked calling code and the typed number into E.164.
pub(crate) fn mobile_number(country: &str, number: &str) -> Result<MobileNumber, String> {
    let typed = number.trim();
    if typed.starts_with('+') {
        return MobileNumber::parse(typed);
    }
    if typed.is_empty() {
        return Err("Enter your mobile number.".into());
    }
    let code = country.trim();
    if !COUNTRY_CALLING_CODES.iter().any(|(c, _)| *c == code) {
        return Err("Choose the country code of your mobile number.".into());
    }
    let national = typed.trim_start_matches('0');
    MobileNumber::parse(&format!("{code}{national}")).map_err(|_| {
        format!("Enter a mobile number of digits only, without the country code, e.g. 91234567 for {code}.")
    })
}

impl RegistrationForm {
    /// `ask_username`: invitees choose one; self-registered officers are given one.
    /// `ask_offshore`: offshore vendors outside an ODC also name a reporting officer and
    /// their company's address.
    pub(crate) fn validate(
        &self,
        ask_username: bool,
        ask_offshore: bool,
    ) -> Result<Registration, FieldErrors> {
        let mut e = FieldErrors::new();
        let username = if ask_username {
            e.check("username", Username::parse(&self.username))
                .map(Some)
        } else {
            Some(None)
        };
        let given = e.check(
            "given_name",
            parse_person_name(&self.given_name, "first name"),
        );
        let family = e.check(
            "family_name",
            parse_person_name(&self.family_name, "last name"),
        );
        let mobile = e.check("mobile", mobile_number(&self.mobile_country, &self.mobile));
        let department = e.check(
            "department",
            parse_text(&self.department, "department", 120),
        );
        let offshore_contact = if ask_offshore {
            let name = e.check(
                "reporting_officer_name",
                parse_person_name(&self.reporting_officer_name, "reporting officer's name"),
            );
            let email = e.check(
                "reporting_officer_email",
                EmailAddress::parse(&self.reporting_officer_email),
            );
            let address = e.check(
                "company_address",
                parse_text(&self.company_address, "company address", 300),
            );
            match (name, email, address) {
                (Some(n), Some(m), Some(a)) => Some(Some((n, m, a))),
                _ => None,
            }
        } else {
            Some(None)
        };
        match (
            username,
            given,
            family,
            mobile,
            department,
            offshore_contact,
        ) {
            (
                Some(username),
                Some(given_name),
                Some(family_name),
                Some(mobile),
                Some(department),
                Some(offshore_contact),
            ) if e.is_empty() => Ok(Registration {
                username,
                given_name,
                family_name,
                mobile,
                department,
                offshore_contact,
            }),
            _ => Err(e),
        }
    }
}

impl Registration {
    pub(crate) fn offshore_details(&self, offshore: bool, in_odc: bool) -> Option<OffshoreDetails> {
        offshore.then(|| OffshoreDetails {
            in_odc,
            reporting_officer_name: self.offshore_contact.as_ref().map(|c| c.0.clone()),
            reporting_officer_email: self.offshore_contact.as_ref().map(|c| c.1.clone()),
            company_address: self.offshore_contact.as_ref().map(|c| c.2.clone()),
        })
    }
}

/// A username for a self-registered officer, from the email's local part: `Ada.Lim@x` →
/// `ada.lim`. The caller appends a number when it is taken.
pub(crate) fn username_from_email(email: &EmailAddress) -> String {
    let local = email.as_str().split('@').next().unwrap_or_default();
    let mut name: String = local
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '.'
            }
        })
        .take(28)
        .collect();
    while name.len() < 3 {
        name.push('0');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> RegistrationForm {
        RegistrationForm {
            username: "ada_l".into(),
            given_name: "Ada".into(),
            family_name: "Lim".into(),
            mobile_country: "+65".into(),
            mobile: "9123 4567".into(),
            department: "Digital Services".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_complete_form_validates_and_joins_the_mobile() {
        let r = form().validate(true, false).unwrap();
        assert_eq!(r.mobile.as_str(), "+6591234567");
        assert_eq!(r.username.unwrap().as_str(), "ada_l");
        assert!(r.offshore_contact.is_none());
    }

    #[test]
    fn each_bad_field_gets_its_message() {
        let bad = RegistrationForm {
            username: "Ada@x.com".into(),
            mobile: "12ab".into(),
            department: String::new(),
            ..form()
        };
        let e = bad.validate(true, true).unwrap_err();
        for f in [
            "username",
            "mobile",
            "department",
            "reporting_officer_name",
            "reporting_officer_email",
            "company_address",
        ] {
            assert!(e.get(f).is_some(), "{f} should have a message");
        }
        assert!(e.get("given_name").is_none());
        let unknown_country = RegistrationForm {
            mobile_country: "+999".into(),
            ..form()
        };
        assert!(
            unknown_country
                .validate(true, false)
                .unwrap_err()
                .get("mobile")
                .is_some()
        );
    }

    #[test]
    fn usernames_come_from_the_local_part() {
        let e = EmailAddress::parse("Ada+Lim@tech.gov.sg").unwrap();
        assert_eq!(username_from_email(&e), "ada.lim");
        let short = EmailAddress::parse("a@tech.gov.sg").unwrap();
        assert_eq!(username_from_email(&short), "a00");
    }
}
