//! Per-line prefixes added by what surrounds a program, peeled off before the line is parsed or
//! glued to a multiline event: Kubernetes CRI (`<time> stderr F …`, `P` for a partial line),
//! syslog RFC 3164/5424 and journald (`Nov 20 10:00:00 host node[2314]: …`), pm2 `--time`
//! (`<time>: …`), `pm2 logs` (`0|api  | …`), `docker logs --timestamps` (`<RFC 3339> …`),
//! `aws logs tail` (`<RFC 3339> <log stream> …`) and `kubectl logs --prefix` (`[pod/p/c] …`).
//!
//! A bare RFC 3339 time followed by a space is ambiguous: docker's prefix or the program's own
//! timestamp. It is reported as [`Peeled::iso`] and the caller decides.

use super::{level, time};
use crate::record::{Level, Nanos};

/// A line with its runtime prefix taken off.
#[derive(Debug, Default)]
pub struct Peeled<'a> {
    /// What the program wrote.
    pub body: &'a str,
    /// The time the prefix carries.
    pub time: Option<Nanos>,
    /// A level from a syslog priority.
    pub level: Option<(Level, String)>,
    /// A CRI partial line (`P`): the rest of it comes on the next line.
    pub partial: bool,
    /// `stdout`/`stderr` from a CRI prefix.
    pub stream: Option<&'a str>,
    pub syslog: Option<Syslog<'a>>,
    /// The line started with `<RFC 3339> `, of this many bytes, taken off `body`.
    pub iso: Option<usize>,
    /// The leading timestamp of `body`, when looking for a prefix already found it (`Some(None)`:
    /// looked, there is none).
    pub lead: Option<Option<time::Leading>>,
    /// The CloudWatch Logs stream an `aws logs tail` line names.
    pub log_stream: Option<&'a str>,
    /// That stream is a Lambda function's: its runtime sends each log call, newlines and all, as
    /// one event, so every prefixed line starts an event (and further lines come bare).
    pub lambda: bool,
    /// `kubectl logs --prefix`.
    pub kube: Option<Kube<'a>>,
}

/// What `kubectl logs --prefix` puts in front of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kube<'a> {
    pub pod: &'a str,
    pub container: &'a str,
    /// The line after the prefix, as the container runtime gave it.
    pub line: &'a str,
}

/// The header fields of a syslog line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Syslog<'a> {
    pub host: Option<&'a str>,
    pub app: Option<&'a str>,
    pub pid: Option<&'a str>,
    pub msgid: Option<&'a str>,
    pub structured: Option<&'a str>,
}

impl Syslog<'_> {
    /// Can this line continue an event? Only lines of one process are glued (`sudo:   user :`
    /// lines of separate sudo runs are indented too), and the kernel's, for its oops reports.
    pub fn continuable(&self) -> bool {
        self.pid.is_some() || self.app == Some("kernel")
    }
}

/// Takes the runtime prefix off a line, if it has one.
pub fn peel(line: &str, observed: Nanos) -> Peeled<'_> {
    let b = line.as_bytes();
    let plain = Peeled {
        body: line,
        ..Peeled::default()
    };
    match b.first() {
        Some(b'<') => priority(line, observed).unwrap_or(plain),
        Some(b'[') if b.starts_with(b"[pod/") => kubectl(line, observed).unwrap_or(plain),
        Some(c) if c.is_ascii_digit() || c.is_ascii_uppercase() => {
            peel_unprioritized(line, observed)
        }
        _ => plain,
    }
}

/// [`peel`] for a line that does not start with a syslog `<PRI>`.
fn peel_unprioritized(line: &str, observed: Nanos) -> Peeled<'_> {
    let b = line.as_bytes();
    let plain = Peeled {
        body: line,
        ..Peeled::default()
    };
    if !b
        .first()
        .is_some_and(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    {
        return plain;
    }
    if let Some(p) = pm2_logs(line) {
        return p;
    }
    let Some(lead) = time::leading(line, observed) else {
        return Peeled {
            lead: Some(None),
            ..plain
        };
    };
    let after = &line[lead.len..];
    // Ruby's Logger header (`I, [time #pid]`) starts with a capital too, and no host follows.
    let month_first = !lead.glog && b[0].is_ascii_uppercase() && b.get(1) != Some(&b',');
    if lead.rfc3339 {
        if let Some(p) = cri(after, lead.nanos).or_else(|| cloudwatch(after, lead.nanos)) {
            return p;
        }
    }
    if month_first || lead.rfc3339 {
        if let Some(p) = syslog_header(after, lead.nanos, month_first) {
            return p;
        }
    }
    if let Some(body) = after.strip_prefix(": ") {
        // pm2 --time
        return Peeled {
            body,
            time: Some(lead.nanos),
            ..Peeled::default()
        };
    }
    if lead.rfc3339 && after.starts_with(' ') {
        return Peeled {
            body: &after[1..],
            time: Some(lead.nanos),
            iso: Some(lead.len + 1),
            ..Peeled::default()
        };
    }
    Peeled {
        lead: Some(Some(lead)),
        ..plain
    }
}

/// `<time> stdout|stderr F|P <body>`.
fn cri(after: &str, time: Nanos) -> Option<Peeled<'_>> {
    let rest = after.strip_prefix(' ')?;
    let stream = rest.get(..6).filter(|s| *s == "stdout" || *s == "stderr")?;
    let rest = rest[6..].strip_prefix(' ')?;
    let partial = match rest.as_bytes().first()? {
        b'F' => false,
        b'P' => true,
        _ => return None,
    };
    let body = match rest.as_bytes().get(1) {
        None => "",
        Some(b' ') => &rest[2..],
        Some(_) => return None,
    };
    Some(Peeled {
        body,
        time: Some(time),
        partial,
        stream: Some(stream),
        ..Peeled::default()
    })
}

/// ` <log stream> <body>` after an `aws logs tail` time, for the stream names of Lambda
/// (`2026/11/24/[$LATEST]<32 hex>`, `[42]` for a version) and ECS (`prefix/container/<task id>`)
/// only: any other word after a docker time is the program's.
fn cloudwatch(after: &str, time: Nanos) -> Option<Peeled<'_>> {
    /// An ECS prefix and container name are at most 255 bytes each.
    const MAX_NAME: usize = 2 * 255 + 34;
    let rest = after.strip_prefix(' ')?;
    let b = rest.as_bytes();
    // Most lines fail here, at the first space of their message.
    let end = match b.iter().take(MAX_NAME + 1).position(|&c| c == b' ') {
        Some(end) => end,
        None if b.len() <= MAX_NAME => b.len(),
        None => return None,
    };
    let (head, id) = b[..end].split_at(end.checked_sub(32)?);
    if !id.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let lambda = lambda_stream(head);
    if !lambda && !ecs_stream(head) {
        return None;
    }
    Some(Peeled {
        body: rest.get(end + 1..).unwrap_or(""),
        time: Some(time),
        log_stream: Some(&rest[..end]),
        lambda,
        ..Peeled::default()
    })
}

/// `YYYY/MM/DD/[$LATEST]` or `YYYY/MM/DD/[42]`, before a Lambda stream's 32 hex digits.
fn lambda_stream(b: &[u8]) -> bool {
    let date = b.len() > 13
        && b[..10].iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'/',
            _ => c.is_ascii_digit(),
        })
        && b[10..12] == *b"/[";
    let version = match b.get(12..).and_then(|v| v.strip_suffix(b"]")) {
        Some(v) => v == b"$LATEST" || !v.is_empty() && v.iter().all(u8::is_ascii_digit),
        None => false,
    };
    date && version
}

/// `prefix/container/`, before an ECS task id.
fn ecs_stream(head: &[u8]) -> bool {
    let Some(head) = head.strip_suffix(b"/") else {
        return false;
    };
    let mut parts = head.split(|&c| c == b'/');
    let mut name = || {
        parts.next().is_some_and(|s| {
            !s.is_empty()
                && s.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        })
    };
    name() && name() && parts.next().is_none()
}

/// `[pod/<pod>/<container>] ` of `kubectl logs --prefix`; what follows may carry `--timestamps`'
/// RFC 3339 time, as a docker line does.
fn kubectl(line: &str, observed: Nanos) -> Option<Peeled<'_>> {
    // A pod's name is at most 253 bytes, a container's 63.
    let close = line.bytes().take(330).position(|c| c == b']')?;
    let (pod, container) = line[5..close].split_once('/')?;
    let name = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.'))
    };
    if !name(pod) || !name(container) {
        return None;
    }
    let rest = line[close + 1..]
        .strip_prefix(' ')
        .unwrap_or(&line[close + 1..]);
    let peeled = peel_unprioritized(rest, observed);
    Some(Peeled {
        kube: Some(Kube {
            pod,
            container,
            line: rest,
        }),
        ..peeled
    })
}

/// ` host tag[pid]: body` after a syslog time. Without a tag, a month-first line still has
/// its host taken off.
fn syslog_header(after: &str, time: Nanos, month_first: bool) -> Option<Peeled<'_>> {
    let rest = after.strip_prefix(' ')?;
    let host_end = rest.find(' ')?;
    let host = &rest[..host_end];
    if host.is_empty() || host.len() > 255 || host.contains(':') && month_first {
        return None;
    }
    let rest = &rest[host_end + 1..];
    let syslog = |app, pid| Syslog {
        host: Some(host),
        app,
        pid,
        ..Syslog::default()
    };
    if let Some((app, pid, body)) = tag(rest) {
        if month_first || pid.is_some() {
            return Some(Peeled {
                body,
                time: Some(time),
                syslog: Some(syslog(Some(app), pid)),
                ..Peeled::default()
            });
        }
    }
    month_first.then(|| Peeled {
        body: rest,
        time: Some(time),
        syslog: Some(syslog(None, None)),
        ..Peeled::default()
    })
}

/// `app[pid]: body` or `app: body`.
fn tag(s: &str) -> Option<(&str, Option<&str>, &str)> {
    let head = &s[..level::floor_boundary(s, 96)];
    let colon = head
        .find(": ")
        .or_else(|| head.strip_suffix(':').map(|h| h.len()))?;
    let t = &s[..colon];
    // `syslogd 1.4.1: restart.`: a program name and its version.
    let versioned = t.split_once(' ').is_some_and(|(name, v)| {
        !name.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    });
    if t.is_empty() || t.contains(' ') && !versioned {
        return None;
    }
    let body = s.get(colon + 2..).unwrap_or("");
    if let Some(open) = t.rfind('[') {
        let pid = t[open + 1..].strip_suffix(']')?;
        if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) {
            return Some((&t[..open], Some(pid), body));
        }
    }
    Some((t, None, body))
}

/// `<PRI>` then RFC 5424 (`1 time host app procid msgid sd msg`) or RFC 3164.
fn priority(line: &str, observed: Nanos) -> Option<Peeled<'_>> {
    let close = line.bytes().take(5).position(|b| b == b'>')?;
    let pri: u32 = line[1..close].parse().ok().filter(|&p| p < 192)?;
    let lvl = Some((level::syslog_severity(pri), pri.to_string()));
    let rest = &line[close + 1..];
    if let Some(r) = rest.strip_prefix("1 ") {
        return rfc5424(r, observed).map(|p| Peeled { level: lvl, ..p });
    }
    let inner = peel_unprioritized(rest, observed);
    if inner.syslog.is_some() {
        return Some(Peeled {
            level: lvl,
            ..inner
        });
    }
    Some(Peeled {
        body: rest,
        level: lvl,
        ..Peeled::default()
    })
}

fn rfc5424(s: &str, observed: Nanos) -> Option<Peeled<'_>> {
    let mut it = s.splitn(6, ' ');
    let ts = it.next()?;
    let nil = |v: &'_ str| -> bool { v == "-" };
    let time = if nil(ts) {
        None
    } else {
        time::value(ts, observed)
    };
    let mut field = || it.next().filter(|v| !nil(v));
    let (host, app, pid, msgid) = (field(), field(), field(), field());
    let rest = it.next().unwrap_or("");
    let (structured, body) = if let Some(r) = rest.strip_prefix('-') {
        (None, r)
    } else {
        let end = sd_end(rest)?;
        (Some(&rest[..end]), &rest[end..])
    };
    let body = body.strip_prefix(' ').unwrap_or(body);
    let body = body.strip_prefix('\u{feff}').unwrap_or(body);
    Some(Peeled {
        body,
        time,
        syslog: Some(Syslog {
            host,
            app,
            pid,
            msgid,
            structured,
        }),
        ..Peeled::default()
    })
}

/// End of the structured-data blocks `[id k="v"]…` (`\]` and `\"` escaped inside values).
fn sd_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while b.get(i) == Some(&b'[') {
        let mut quoted = false;
        i += 1;
        loop {
            match *b.get(i)? {
                b'\\' => i += 1,
                b'"' => quoted = !quoted,
                b']' if !quoted => break,
                _ => {}
            }
            i += 1;
        }
        i += 1;
    }
    (i > 0).then_some(i)
}

/// `pm2 logs` output: `0|api      | body`.
fn pm2_logs(line: &str) -> Option<Peeled<'_>> {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    let rest = line[digits..].strip_prefix('|')?;
    let bar = rest.get(..level::floor_boundary(rest, 64))?.find('|')?;
    if digits == 0 || rest[..bar].trim().is_empty() {
        return None;
    }
    let body = &rest[bar + 1..];
    Some(Peeled {
        body: body.strip_prefix(' ').unwrap_or(body),
        ..Peeled::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(line: &str) -> &str {
        peel(line, 0).body
    }

    #[test]
    fn peels_runtime_prefixes() {
        let p = peel("2026-11-20T10:00:00.5Z stderr P part", 0);
        assert_eq!(
            (p.body, p.partial, p.stream),
            ("part", true, Some("stderr"))
        );
        assert_eq!(body("2026-11-20T10:00:00Z stdout F "), "");
        let p = peel("Nov  2 10:00:00 h kernel: [ 1.0] x", 0);
        assert_eq!(p.body, "[ 1.0] x");
        assert_eq!(p.syslog.as_ref().and_then(|s| s.app), Some("kernel"));
        assert!(p.syslog.unwrap().continuable());
        let p = peel("2026-11-20T10:00:00+0000 web-1 node[2314]: at x", 0);
        assert_eq!(p.body, "at x");
        assert_eq!(p.syslog.and_then(|s| s.pid), Some("2314"));
        let p = peel("<13>1 - - - - - -", 0);
        assert_eq!((p.body, p.time), ("", None));
        assert_eq!(body("12|api-worker | hello"), "hello");
        let p = peel("2026-11-20T10:00:00Z hello", 0);
        assert_eq!((p.body, p.iso), ("hello", Some(21)));
    }

    #[test]
    fn peels_aws_logs_tail_streams() {
        let p = peel("2026-11-24T09:05:43.882000+00:00 2026/11/24/[42]05cde232f584096d0bd8de600b7aa265 2026-11-24T09:05:43.882Z\tcf4fbbb7-3584-4aaf-a5d5-b215c38540cb\tERROR\tboom", 0);
        assert_eq!(
            p.body,
            "2026-11-24T09:05:43.882Z\tcf4fbbb7-3584-4aaf-a5d5-b215c38540cb\tERROR\tboom"
        );
        assert_eq!(p.time, Some(1_795_511_143_882_000_000));
        assert_eq!(
            p.log_stream,
            Some("2026/11/24/[42]05cde232f584096d0bd8de600b7aa265")
        );
        assert!(p.lambda && p.iso.is_none());
        let p = peel("2026-11-24T08:00:11.024000+00:00 2026/11/24/[$LATEST]f298f48da87d33c2b3c0460156cbd078 END RequestId: x", 0);
        assert_eq!(p.body, "END RequestId: x");
        assert!(p.lambda);
        let p = peel(
            "2026-11-24T08:00:11.024000+00:00 ecs/web/4f1c0d9e2b7a4c3d9e8f7a6b5c4d3e2f GET / 200",
            0,
        );
        assert_eq!(
            (p.body, p.log_stream, p.lambda),
            (
                "GET / 200",
                Some("ecs/web/4f1c0d9e2b7a4c3d9e8f7a6b5c4d3e2f"),
                false
            )
        );
        // Names of other shapes are the program's words, behind docker's time.
        for line in [
            "2026-11-24T08:00:11Z web/4f1c0d9e2b7a4c3d9e8f7a6b5c4d3e2f x",
            "2026-11-24T08:00:11Z a/b/c/4f1c0d9e2b7a4c3d9e8f7a6b5c4d3e2f x",
            "2026-11-24T08:00:11Z ecs/web/4F1C0D9E2B7A4C3D9E8F7A6B5C4D3E2F x",
            "2026-11-24T08:00:11Z 2026/11/24/[v1]f298f48da87d33c2b3c0460156cbd078 x",
            "2026-11-24T08:00:11Z 2026/11/24/f298f48da87d33c2b3c0460156cbd078 x",
            "2026-11-24T08:00:11Z ééééééééééééééééééééééééééééééééé x",
        ] {
            let p = peel(line, 0);
            assert!(p.log_stream.is_none() && p.iso == Some(21), "{line}");
        }
        // Go's log package and docker's prefix are left as they were.
        let p = peel("2026/11/24 10:00:00 f298f48da87d33c2b3c0460156cbd078 x", 0);
        assert_eq!(
            p.body,
            "2026/11/24 10:00:00 f298f48da87d33c2b3c0460156cbd078 x"
        );
        assert!(p.log_stream.is_none() && p.time.is_none());
    }

    #[test]
    fn peels_kubectl_prefixes() {
        let p = peel("[pod/ledger-api-6b7d9c8f5-7bdlv/ledger-api] 2026-11-28T09:00:00.522746949Z {\"msg\":\"x\"}", 0);
        let kube = p.kube.unwrap();
        assert_eq!(
            (kube.pod, kube.container),
            ("ledger-api-6b7d9c8f5-7bdlv", "ledger-api")
        );
        assert_eq!((p.body, p.iso), ("{\"msg\":\"x\"}", Some(31)));
        assert_eq!(p.time, Some(1_795_856_400_522_746_949));
        let p = peel("[pod/web-5d8f/web] 2026-11-28 09:00:00 INFO started", 0);
        assert_eq!(p.body, "2026-11-28 09:00:00 INFO started");
        assert_eq!(p.kube.unwrap().line, "2026-11-28 09:00:00 INFO started");
        assert!(p.lead.is_some_and(|l| l.is_some()));
        let p = peel("[pod/web-5d8f/web] hello", 0);
        assert_eq!((p.body, p.kube.map(|k| k.pod)), ("hello", Some("web-5d8f")));
        for line in [
            "[pod/web] x",
            "[pod/a b/c] x",
            "[pod//c] x",
            "[pod/a/b/c] x",
            "[pods] x",
        ] {
            let p = peel(line, 0);
            assert!(p.kube.is_none() && p.body == line, "{line}");
        }
    }

    #[test]
    fn leaves_other_lines_alone() {
        for line in [
            "hello world",
            "2026-11-20 10:00:00,123 INFO x",
            "<abc> not a priority",
            "<999>too big",
            "12|",
            "Nov 20 10:00:00",
            "2026-11-20T10:00:00Z stdout X y",
        ] {
            let p = peel(line, 0);
            assert!(
                p.syslog.is_none() && !p.partial && p.stream.is_none(),
                "{line}"
            );
        }
        assert_eq!(
            body("2026-11-20 10:00:00,123 INFO x"),
            "2026-11-20 10:00:00,123 INFO x"
        );
    }
}
