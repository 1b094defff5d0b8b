//! The rules for following a redirect without leaking the token.

use url::Url;

/// Returns true for the statuses that carry a `Location` to follow.
pub(crate) fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Returns true when `a` and `b` have the same scheme, host and effective port.
///
/// An omitted default port equals the explicit one, so `https://h/` and
/// `https://h:443/` are the same origin. Only a request to the same origin as
/// the first one carries the `Authorization` header.
pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Resolves a `Location` value against the URL that sent it.
///
/// # Errors
///
/// Returns the reason for refusing the redirect: a location that is not a
/// URL, a scheme other than `http` or `https`, or a move from `https` to `http`.
pub(crate) fn next_url(current: &Url, location: &str) -> Result<Url, String> {
    let next = current
        .join(location.trim())
        .map_err(|e| format!("the Location header {location:?} is not a valid URL ({e})"))?;

    if next.scheme() != "http" && next.scheme() != "https" {
        return Err(format!(
            "the redirect goes to the unsupported scheme '{}'",
            next.scheme()
        ));
    }
    if current.scheme() == "https" && next.scheme() == "http" {
        return Err(format!(
            "the server redirected from https to plain http ({}); refusing to download over an unencrypted connection",
            redact_url(&next)
        ));
    }
    Ok(next)
}

/// Returns the URL without its query and credentials, for messages and logs.
///
/// Storage redirects carry signatures in the query string, which must not
/// reach a log.
pub(crate) fn redact_url(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn default_port_is_same_origin() {
        assert!(same_origin(&url("https://h/a"), &url("https://h:443/b")));
        assert!(same_origin(&url("http://H:80/a"), &url("http://h/b")));
    }

    #[test]
    fn origin_differs_by_part() {
        assert!(!same_origin(&url("https://h/a"), &url("http://h/a")));
        assert!(!same_origin(&url("https://h/a"), &url("https://g/a")));
        assert!(!same_origin(&url("http://h:8080/a"), &url("http://h:8081/a")));
    }

    #[test]
    fn refuses_downgrade_and_odd_schemes() {
        assert!(next_url(&url("https://h/a"), "http://h/b").is_err());
        assert!(next_url(&url("https://h/a"), "file:///etc/passwd").is_err());
        assert!(next_url(&url("http://h/a"), "https://h/b").is_ok());
        assert_eq!(
            next_url(&url("http://h/a/b"), "../c").unwrap().as_str(),
            "http://h/c"
        );
    }

    #[test]
    fn redaction_drops_query() {
        assert_eq!(redact_url(&url("https://u:p@s3/x?sig=abc")), "https://s3/x");
    }
}
