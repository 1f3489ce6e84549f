//! Where a trail keeps the logs a window needs: CloudTrail's documented key layout,
//! `<prefix>/AWSLogs/<org id>/<account>/CloudTrail/<region>/YYYY/MM/DD/` for an organization
//! trail (`AWSLogs/<account>/…` for an account's own trail). Only these prefixes are listed:
//! the window's accounts, regions and days — never the whole bucket.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// Where a trail delivers: its bucket's key prefix (may be empty) and, for an organization
/// trail, the organization's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailLayout {
    pub prefix: String,
    pub org_id: Option<String>,
}

impl TrailLayout {
    /// The key prefix of one account's logs of one region and day.
    pub fn day(&self, account: &str, region: &str, day: Date) -> String {
        let mut out = String::new();
        let p = self.prefix.trim_matches('/');
        if !p.is_empty() {
            out.push_str(p);
            out.push('/');
        }
        out.push_str("AWSLogs/");
        if let Some(org) = &self.org_id {
            out.push_str(org);
            out.push('/');
        }
        out.push_str(&format!(
            "{account}/CloudTrail/{region}/{:04}/{:02}/{:02}/",
            day.year(),
            day.month(),
            day.day()
        ));
        out
    }

    /// Every day prefix of `accounts` × `regions` from `from` to `until` (UTC days), plus the
    /// day after `until`: CloudTrail delivers minutes late, so an event near midnight can be in
    /// the next day's folder. In a stable order (account, region, day).
    pub fn prefixes(
        &self,
        accounts: &[String],
        regions: &[String],
        from: Timestamp,
        until: Timestamp,
    ) -> Vec<String> {
        let first = from.to_zoned(TimeZone::UTC).date();
        let last = until
            .to_zoned(TimeZone::UTC)
            .date()
            .tomorrow()
            .unwrap_or(Date::MAX);
        let mut days = Vec::new();
        let mut d = first;
        while d <= last {
            days.push(d);
            match d.tomorrow() {
                Ok(next) => d = next,
                Err(_) => break,
            }
        }
        let mut out = Vec::new();
        for account in accounts {
            for region in regions {
                for day in &days {
                    out.push(self.day(account, region, *day));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organization_and_account_trails_by_day_with_the_day_after() {
        let org = TrailLayout {
            prefix: "/logs/".into(),
            org_id: Some("o-abc123".into()),
        };
        let p = org.prefixes(
            &["111111111111".into()],
            &["us-east-1".into(), "eu-west-1".into()],
            "2026-12-31T23:00:00Z".parse().unwrap(),
            "2027-01-01T01:00:00Z".parse().unwrap(),
        );
        assert_eq!(
            p,
            [
                "logs/AWSLogs/o-abc123/111111111111/CloudTrail/us-east-1/2026/12/31/",
                "logs/AWSLogs/o-abc123/111111111111/CloudTrail/us-east-1/2027/01/01/",
                "logs/AWSLogs/o-abc123/111111111111/CloudTrail/us-east-1/2027/01/02/",
                "logs/AWSLogs/o-abc123/111111111111/CloudTrail/eu-west-1/2026/12/31/",
                "logs/AWSLogs/o-abc123/111111111111/CloudTrail/eu-west-1/2027/01/01/",
                "logs/AWSLogs/o-abc123/111111111111/CloudTrail/eu-west-1/2027/01/02/",
            ]
        );
        let own = TrailLayout {
            prefix: String::new(),
            org_id: None,
        };
        assert_eq!(
            own.day("2", "us-east-1", "2026-03-04".parse().unwrap()),
            "AWSLogs/2/CloudTrail/us-east-1/2026/03/04/"
        );
    }
}
