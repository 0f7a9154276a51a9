//! The `XXL-JOB-ACCESS-TOKEN` check: with a token configured the header must
//! equal it; without one nothing is checked (XXL-JOB 3.3.0 and 3.3.1
//! required the header even then, which kept token-less executors out).

use poem::Request;

/// The header executors send their token in.
pub(crate) const TOKEN_HEADER: &str = "XXL-JOB-ACCESS-TOKEN";

/// The message of a refused token, as executors know it.
pub(crate) const WRONG_TOKEN: &str = "The access token is wrong.";

/// Whether `req` may call the API when `configured` is the center's token.
pub(crate) fn token_accepted(configured: Option<&str>, req: &Request) -> bool {
    let Some(expected) = configured else {
        return true;
    };
    req.headers()
        .get(TOKEN_HEADER)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|sent| constant_time_eq(sent.as_bytes(), expected.as_bytes()))
}

/// Compares without stopping at the first difference, so the time taken
/// tells nothing about how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(token: Option<&str>) -> Request {
        let mut builder = Request::builder();
        if let Some(token) = token {
            builder = builder.header(TOKEN_HEADER, token);
        }
        builder.finish()
    }

    #[test]
    fn configured_tokens_must_match() {
        assert!(token_accepted(Some("s3cret"), &request(Some("s3cret"))));
        assert!(!token_accepted(Some("s3cret"), &request(Some("s3cre"))));
        assert!(!token_accepted(Some("s3cret"), &request(None)));
    }

    #[test]
    fn without_a_token_nothing_is_checked() {
        assert!(token_accepted(None, &request(None)));
        assert!(token_accepted(None, &request(Some("anything"))));
    }
}
