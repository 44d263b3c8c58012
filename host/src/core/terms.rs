//! What a case was applied for, kept so that a policy the partner issues without restating its
//! terms is complete. AAP's case-by-case confirmation (#6) answers with the policy number and
//! e-policy only, though #3 sent the dates and the premium and #5 may have loaded the offer with
//! an extra premium; neither the adapter (WIT 1.x `case-ref` carries no terms) nor the portal
//! should have to remember them.

use serde::{Deserialize, Serialize};

use crate::model::{Application, Money, Policy};

/// The terms applied for, and any extra premium the partner loaded the offer with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Terms {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub premium: Option<Money>,
    /// From an underwriting decision that approved the case with a loading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_premium: Option<Money>,
}

impl Terms {
    /// The application's terms; `None` when it states none.
    pub fn applied(application: &Application) -> Option<Terms> {
        let terms = Terms {
            start_date: application.start_date.clone(),
            end_date: application.end_date.clone(),
            premium: application.premium.clone(),
            extra_premium: None,
        };
        (terms != Terms::default()).then_some(terms)
    }

    /// These terms with the offer loaded by `extra`; an extra premium of zero is no loading.
    pub fn loaded(&self, extra: &Money) -> Terms {
        let zero = Decimal::parse(&extra.amount).is_some_and(|d| d.units == 0);
        Terms {
            extra_premium: (!zero).then(|| extra.clone()),
            ..self.clone()
        }
    }

    /// `policy`, with what the partner left out taken from these terms. What the partner said
    /// stays as it said it.
    pub fn complete(&self, mut policy: Policy) -> Policy {
        if policy.start_date.is_none() {
            policy.start_date = self.start_date.clone();
        }
        if policy.end_date.is_none() {
            policy.end_date = self.end_date.clone();
        }
        if policy.premium.is_none() {
            policy.premium = self.premium_due();
        }
        policy
    }

    /// The premium applied for plus any loading. Unknown (rather than guessed) when the two
    /// are in different currencies or either amount is not a plain decimal.
    fn premium_due(&self) -> Option<Money> {
        let premium = self.premium.as_ref()?;
        let Some(extra) = &self.extra_premium else {
            return Some(premium.clone());
        };
        if extra.currency != premium.currency {
            return None;
        }
        let sum = Decimal::parse(&premium.amount)?.add(Decimal::parse(&extra.amount)?)?;
        Some(Money {
            amount: sum.to_string(),
            currency: premium.currency.clone(),
        })
    }
}

/// A plain decimal amount (`123`, `-4.50`): units of 10^-scale.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Decimal {
    units: i128,
    scale: u32,
}

impl Decimal {
    fn parse(text: &str) -> Option<Decimal> {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let plain = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !plain(whole) || !plain(fraction) || fraction.len() > 18 {
            return None;
        }
        let units: i128 = format!("{whole}{fraction}").parse().ok()?;
        Some(Decimal {
            units: if negative { -units } else { units },
            scale: fraction.len() as u32,
        })
    }

    fn add(self, other: Decimal) -> Option<Decimal> {
        let scale = self.scale.max(other.scale);
        let widen = |d: Decimal| d.units.checked_mul(10i128.checked_pow(scale - d.scale)?);
        Some(Decimal {
            units: widen(self)?.checked_add(widen(other)?)?,
            scale,
        })
    }
}

impl std::fmt::Display for Decimal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.units < 0 { "-" } else { "" };
        let digits = self.units.unsigned_abs().to_string();
        let scale = self.scale as usize;
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let digits = format!("{digits:0>width$}", width = scale + 1);
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        write!(f, "{sign}{whole}.{fraction}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idr(amount: &str) -> Money {
        Money {
            amount: amount.into(),
            currency: "IDR".into(),
        }
    }

    fn bare(number: &str) -> Policy {
        Policy {
            number: number.into(),
            certificate: None,
            start_date: None,
            end_date: None,
            premium: None,
            document_link: None,
            start_time: None,
            option_id: None,
            breakdown: Vec::new(),
            renewal_of: None,
            extensions: None,
        }
    }

    fn terms() -> Terms {
        Terms {
            start_date: Some("2026-01-01".into()),
            end_date: Some("2027-01-01".into()),
            premium: Some(idr("1500000")),
            extra_premium: None,
        }
    }

    #[test]
    fn a_policy_without_terms_takes_the_applied_ones_plus_the_loading() {
        let policy = terms().loaded(&idr("100000")).complete(bare("P1"));
        assert_eq!(policy.start_date.as_deref(), Some("2026-01-01"));
        assert_eq!(policy.end_date.as_deref(), Some("2027-01-01"));
        assert_eq!(policy.premium, Some(idr("1600000")));
    }

    #[test]
    fn what_the_partner_said_stays() {
        let mut said = bare("P1");
        said.premium = Some(idr("1"));
        said.start_date = Some("2026-02-02".into());
        let policy = terms().complete(said);
        assert_eq!(policy.premium, Some(idr("1")));
        assert_eq!(policy.start_date.as_deref(), Some("2026-02-02"));
        assert_eq!(policy.end_date.as_deref(), Some("2027-01-01"));
    }

    #[test]
    fn a_loading_that_cannot_be_added_leaves_the_premium_unknown() {
        let usd = Money {
            amount: "10".into(),
            currency: "USD".into(),
        };
        assert_eq!(terms().loaded(&usd).complete(bare("P1")).premium, None);
        assert_eq!(terms().loaded(&idr("1e5")).complete(bare("P1")).premium, None);
        assert_eq!(terms().loaded(&idr("0")).extra_premium, None);
    }

    #[test]
    fn decimals_add_at_the_finer_scale() {
        let sum = |a: &str, b: &str| {
            Decimal::parse(a)
                .unwrap()
                .add(Decimal::parse(b).unwrap())
                .unwrap()
                .to_string()
        };
        assert_eq!(sum("1500000", "100000.5"), "1600000.5");
        assert_eq!(sum("0.05", "0.95"), "1.00");
        assert_eq!(sum("-0.5", "0.25"), "-0.25");
        assert_eq!(sum("10", "-10.5"), "-0.5");
        assert!(Decimal::parse("1.").is_some() && Decimal::parse(".5").is_none());
        assert!(Decimal::parse("+1").is_none() && Decimal::parse("").is_none());
    }
}
