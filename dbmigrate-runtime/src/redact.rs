//! Hiding the password of a database URL wherever one is shown: messages, logs, reports.

use std::borrow::Cow;

/// What a hidden password is shown as.
const HIDDEN: &str = "***";

/// Query parameters that carry a password (sqlx reads `password` from the query as well as from the
/// credentials; libpq spells the client key's one `sslpassword`).
const SECRET_PARAMETERS: [&str; 4] = ["password", "sslpassword", "pass", "pwd"];

/// `url` with its password hidden, for messages and logs: `postgres://app:s3cret@db/app` is shown as
/// `postgres://app:***@db/app`, and the value of a `password` query parameter is hidden the same way.
/// A URL without a password comes back unchanged (and borrowed).
///
/// Made for display, not for parsing, so it never fails; it does not use a URL parser because a
/// password with an unescaped `@`, `/`, `?` or `#` makes one read the URL differently, or not at all,
/// and that password must be hidden too. Where such a URL leaves the end of the password ambiguous (an
/// `@` in the path or query as well), it hides more, never less.
pub fn redact_url(url: &str) -> Cow<'_, str> {
    let credentials_hidden = hide_credentials(url);
    match hide_query_secrets(&credentials_hidden) {
        Cow::Borrowed(_) => credentials_hidden,
        Cow::Owned(text) => Cow::Owned(text),
    }
}

/// `scheme://user:password@host...` with the password hidden.
fn hide_credentials(url: &str) -> Cow<'_, str> {
    let Some(rest_start) = url.find("://").map(|i| i + 3) else {
        return Cow::Borrowed(url);
    };
    let rest = &url[rest_start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    // The credentials end at the authority's last `@` (the standard reading), unless the rest of the
    // URL holds an `@` too: then the password may hold a `/`, `?` or `#`, and it ends at the last `@`.
    let at = if rest[authority_end..].contains('@') {
        rest.rfind('@')
    } else {
        rest[..authority_end].rfind('@')
    };
    let Some(at) = at else {
        return Cow::Borrowed(url);
    };
    // A user name cannot hold a `:`, so the password starts after the first one.
    let Some(colon) = rest[..at].find(':') else {
        return Cow::Borrowed(url);
    };
    let password_start = rest_start + colon + 1;
    let password_end = rest_start + at;
    Cow::Owned(format!(
        "{}{HIDDEN}{}",
        &url[..password_start],
        &url[password_end..]
    ))
}

/// The values of password query parameters hidden.
fn hide_query_secrets(url: &str) -> Cow<'_, str> {
    let Some(query_start) = url.find('?').map(|i| i + 1) else {
        return Cow::Borrowed(url);
    };
    let query_end = url[query_start..]
        .find('#')
        .map_or(url.len(), |i| query_start + i);
    let mut changed = false;
    let parameters: Vec<String> = url[query_start..query_end]
        .split('&')
        .map(|parameter| match parameter.split_once('=') {
            Some((key, value))
                if !value.is_empty()
                    && SECRET_PARAMETERS
                        .iter()
                        .any(|secret| key.eq_ignore_ascii_case(secret)) =>
            {
                changed = true;
                format!("{key}={HIDDEN}")
            }
            _ => parameter.to_string(),
        })
        .collect();
    if !changed {
        return Cow::Borrowed(url);
    }
    Cow::Owned(format!(
        "{}{}{}",
        &url[..query_start],
        parameters.join("&"),
        &url[query_end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_in_the_credentials_is_hidden() {
        for (url, shown) in [
            (
                "postgres://app:s3cret@db.internal:5432/app",
                "postgres://app:***@db.internal:5432/app",
            ),
            ("mysql://:s3cret@db/app", "mysql://:***@db/app"),
            ("mariadb://app:p%40ss@db/app", "mariadb://app:***@db/app"),
            ("postgres://app:p@ss@db/app", "postgres://app:***@db/app"),
            ("postgres://app:pa/ss@db/app", "postgres://app:***@db/app"),
            ("postgres://app:pa?s#s@db/app", "postgres://app:***@db/app"),
            (
                "postgres://app:s3cret@db/app?sslmode=require",
                "postgres://app:***@db/app?sslmode=require",
            ),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn a_password_query_parameter_is_hidden() {
        assert_eq!(
            redact_url("postgres://db/app?user=app&password=s3cret&sslmode=require#x"),
            "postgres://db/app?user=app&password=***&sslmode=require#x"
        );
        assert_eq!(
            redact_url("postgres://app:a@db/app?PASSWORD=b"),
            "postgres://app:***@db/app?PASSWORD=***"
        );
    }

    #[test]
    fn a_url_without_a_password_is_unchanged() {
        for url in [
            "postgres://root@127.0.0.1:5432/test",
            "mysql://root@127.0.0.1:3306/test",
            "sqlite://app.db?mode=rwc",
            "sqlite::memory:",
            "sqlite:///tmp/with@sign/app.db",
            "postgres://db/app?application_name=ci",
        ] {
            assert!(
                matches!(redact_url(url), Cow::Borrowed(u) if u == url),
                "{url}"
            );
        }
    }

    #[test]
    fn an_ambiguous_url_hides_more_never_less() {
        let shown = redact_url("postgres://app:s3cret@db/app?application_name=me@ci");
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    proptest::proptest! {
        #[test]
        fn no_password_survives(password in "zz[ -~]{0,24}", query in "(\\?[ -y]{0,12})?") {
            let url = format!("postgres://app:{password}@db.example:5432/app{query}");
            let shown = redact_url(&url);
            proptest::prop_assert!(!shown.contains(&password), "{} shown as {}", url, shown);
        }
    }
}
