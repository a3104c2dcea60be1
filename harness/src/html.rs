//! A run as one self-contained HTML page: a swim-lane timeline with one lane
//! per host and task, requests and answers as arrows between the client's
//! lane and the request's, yield decisions, faults and the violation
//! highlighted. Hovering an event shows it; clicking pins its details.
//!
//! No network and no external script: the SVG is drawn here and the page's
//! few lines of script only show details. Time runs left to right by event,
//! not linearly (a run idles for seconds between bursts of milliseconds);
//! tick labels give the simulated time and a dashed line marks a gap.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::runner::Outcome;
use crate::trace::Event;

const STEP: usize = 16;
const LANE: usize = 26;
/// Width of the lane names, drawn beside the scrolling timeline.
const LABELS: usize = 230;
const LEFT: usize = 10;
const TOP: usize = 40;
/// A pause longer than this between two events is drawn as a gap.
const GAP: Duration = Duration::from_millis(100);

fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn secs(at: Duration) -> String {
    format!("{}.{:03}s", at.as_secs(), at.subsec_millis())
}

/// The lane an event is drawn in: its host, and its task if it has one.
fn lane_of(e: &Event) -> String {
    match e.task.as_deref() {
        Some(task) => format!("{} / {task}", e.host),
        None => e.host.to_string(),
    }
}

/// Colour and shape class of an event kind.
fn class_of(e: &Event) -> &'static str {
    let kind = e.kind.as_str();
    match kind {
        "violation" => "violation",
        "bug_taken" => "bug",
        "fault" => "fault",
        "yield" if e.detail.contains(": pass") => "pass",
        "yield" => "yield",
        "resume" => "resume",
        _ if kind.starts_with("http.") => "http",
        _ if kind.starts_with("proc.") || kind.starts_with("exec.") => "proc",
        _ if kind.starts_with("files.") => "files",
        _ => "other",
    }
}

/// The client host named in an `http.accepted` detail (`... (host NAME)`).
fn peer_host(detail: &str) -> Option<&str> {
    detail
        .rsplit_once("(host ")
        .and_then(|(_, rest)| rest.strip_suffix(')'))
}

/// Renders `outcome` as a page titled with its scenario and seed.
pub fn render(outcome: &Outcome) -> String {
    let events = &outcome.events;
    let mut lanes: Vec<String> = Vec::new();
    let mut lane_index: BTreeMap<String, usize> = BTreeMap::new();
    // Hosts first in order of appearance, each followed by its tasks.
    let mut hosts: Vec<&str> = Vec::new();
    for e in events {
        if !hosts.contains(&&*e.host) {
            hosts.push(&e.host);
        }
    }
    // Clients (hosts that opened connections) above the servers, so the
    // request arrows run down and the answers up.
    let clients: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == "http.accepted")
        .filter_map(|e| peer_host(&e.detail))
        .collect();
    hosts.sort_by_key(|h| !clients.contains(h));
    for host in &hosts {
        let mut mine: Vec<String> = vec![host.to_string()];
        for e in events.iter().filter(|e| &*e.host == *host) {
            let lane = lane_of(e);
            if !mine.contains(&lane) {
                mine.push(lane);
            }
        }
        for lane in mine {
            lane_index.insert(lane.clone(), lanes.len());
            lanes.push(lane);
        }
    }
    let y = |lane: usize| TOP + lane * LANE + LANE / 2;
    let x = |i: usize| LEFT + i * STEP + STEP / 2;
    let width = LEFT + events.len().max(1) * STEP + 40;
    let height = TOP + lanes.len() * LANE + 20;

    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\">\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#3366cc\"/></marker></defs>"
    );
    let mut names = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{LABELS}\" height=\"{height}\">"
    );
    for (i, lane) in lanes.iter().enumerate() {
        let top = TOP + i * LANE;
        let shade = if i % 2 == 0 { "#f6f6f6" } else { "#ffffff" };
        let _ = write!(
            svg,
            "<rect x=\"0\" y=\"{top}\" width=\"{width}\" height=\"{LANE}\" fill=\"{shade}\"/>"
        );
        let _ = write!(
            names,
            "<rect x=\"0\" y=\"{top}\" width=\"{LABELS}\" height=\"{LANE}\" fill=\"{shade}\"/>\
             <text class=\"lane\" x=\"6\" y=\"{}\">{}</text>",
            top + LANE / 2 + 4,
            esc(lane)
        );
    }
    names.push_str("</svg>");
    // Time ticks and gaps.
    let mut last_label: Option<(usize, Duration)> = None;
    for (i, e) in events.iter().enumerate() {
        let gap = i > 0 && e.at.saturating_sub(events[i - 1].at) > GAP;
        if gap {
            let gx = x(i) - STEP / 2;
            let _ = write!(
                svg,
                "<line class=\"gap\" x1=\"{gx}\" y1=\"{}\" x2=\"{gx}\" y2=\"{height}\"><title>{} pass with no event</title></line>",
                TOP - 8,
                secs(e.at.saturating_sub(events[i - 1].at))
            );
        }
        let due = match last_label {
            None => true,
            Some((li, lt)) => (x(i) - x(li) >= 70 && e.at != lt) || gap,
        };
        if due {
            let _ = write!(
                svg,
                "<text class=\"tick\" x=\"{}\" y=\"{}\">{}</text>",
                x(i),
                TOP - 12,
                secs(e.at)
            );
            last_label = Some((i, e.at));
        }
    }
    let mut focus: Option<usize> = None;
    // Request and answer arrows between the client's lane and the request's.
    let mut client_of_conn: BTreeMap<&str, &str> = BTreeMap::new();
    for e in events {
        if e.kind == "http.accepted"
            && let (Some(conn), Some(host)) =
                (e.detail.split_whitespace().next(), peer_host(&e.detail))
        {
            client_of_conn.insert(conn, host);
        }
    }
    let mut client_of_req: BTreeMap<&str, &str> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        let Some(task) = e.task.as_deref() else {
            continue;
        };
        let from_to = match e.kind.as_str() {
            "http.request" => {
                let conn = e.detail.rsplit(' ').next().unwrap_or("");
                let Some(client) = client_of_conn.get(conn).copied() else {
                    continue;
                };
                client_of_req.insert(task, client);
                (client, true)
            }
            "http.response" => match client_of_req.get(task) {
                Some(client) => (*client, false),
                None => continue,
            },
            _ => continue,
        };
        let (client, inbound) = from_to;
        let (Some(&c), Some(&r)) = (lane_index.get(client), lane_index.get(&lane_of(e))) else {
            continue;
        };
        let (y1, y2) = if inbound { (y(c), y(r)) } else { (y(r), y(c)) };
        let _ = write!(
            svg,
            "<line class=\"arrow\" x1=\"{0}\" y1=\"{y1}\" x2=\"{0}\" y2=\"{y2}\" marker-end=\"url(#arrow)\"/>",
            x(i)
        );
    }
    // The violation's column.
    for (i, e) in events.iter().enumerate() {
        if e.kind == "violation" {
            if focus.is_none() {
                focus = Some(x(i));
            }
            let _ = write!(
                svg,
                "<rect class=\"violated\" x=\"{}\" y=\"{TOP}\" width=\"{STEP}\" height=\"{}\"/>",
                x(i) - STEP / 2,
                lanes.len() * LANE
            );
        }
    }
    for (i, e) in events.iter().enumerate() {
        let Some(&lane) = lane_index.get(&lane_of(e)) else {
            continue;
        };
        let class = class_of(e);
        let tip = format!("{} {} {}: {}", secs(e.at), lane_of(e), e.kind, e.detail);
        let (cx, cy) = (x(i), y(lane));
        let shape = match class {
            "violation" | "bug" | "fault" => format!(
                "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" transform=\"rotate(45 {cx} {cy})\"/>",
                cx - 6,
                cy - 6
            ),
            "yield" | "pass" => format!("<path d=\"M{} {} l5 9 l-10 0 z\"/>", cx, cy - 5),
            _ => format!("<circle cx=\"{cx}\" cy=\"{cy}\" r=\"5\"/>"),
        };
        let _ = write!(
            svg,
            "<g class=\"ev {class}\" data-i=\"{i}\">{shape}<title>{}</title></g>",
            esc(&tip)
        );
    }
    svg.push_str("</svg>");

    let mut details = String::new();
    for (i, e) in events.iter().enumerate() {
        let _ = write!(
            details,
            "<div id=\"e{i}\" hidden><b>{}</b> &middot; {} &middot; <b>{}</b><br><code>{}</code></div>",
            secs(e.at),
            esc(&lane_of(e)),
            esc(&e.kind),
            esc(&e.detail)
        );
    }
    let title = format!("{} seed {}", outcome.scenario, outcome.seed);
    let verdict = match &outcome.failure {
        Some(f) => format!("<pre class=\"fail\">{}</pre>", esc(&f.to_string())),
        None => "<p class=\"pass\">PASS</p>".to_string(),
    };
    let bugs: Vec<&str> = outcome.bugs.iter().map(|b| b.name()).collect();
    let bugs = if bugs.is_empty() {
        "no bug switches".to_string()
    } else {
        format!("bugs: {}", bugs.join(", "))
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\n<style>{STYLE}</style></head>\n<body>\n<h1>{title} <small>({bugs}; {n} events, {t} simulated)</small></h1>\n{verdict}\n<p class=\"legend\"><span class=\"k http\">&#9679; http</span> <span class=\"k proc\">&#9679; process</span> <span class=\"k files\">&#9679; files</span> <span class=\"k yield\">&#9650; yield (others may run)</span> <span class=\"k pass\">&#9650; pass</span> <span class=\"k resume\">&#9679; resume</span> <span class=\"k bug\">&#9670; bug branch</span> <span class=\"k fault\">&#9670; fault</span> <span class=\"k violation\">&#9670; violation</span> &middot; arrows: request in, answer out &middot; dashed: idle gap &middot; click an event to pin it</p>\n<div id=\"detail\">Hover or click an event.</div>\n<div id=\"frame\"><div id=\"names\">{names}</div><div id=\"lanes\" data-focus=\"{focus}\">{svg}</div></div>\n<div id=\"all\">{details}</div>\n<script>{SCRIPT}</script>\n</body></html>\n",
        title = esc(&title),
        bugs = esc(&bugs),
        n = events.len(),
        t = secs(outcome.sim_time),
        focus = focus.unwrap_or(0),
    )
}

const STYLE: &str = "body{font:13px system-ui,sans-serif;margin:12px;color:#222}\
h1{font-size:17px;margin:0 0 6px}h1 small{font-weight:normal;color:#666}\
pre.fail{background:#fff0f0;border:1px solid #d33;padding:6px;margin:4px 0;white-space:pre-wrap}\
p.pass{color:#080;font-weight:bold}.legend{color:#444}.k{margin-right:8px}\
#detail{position:sticky;top:0;background:#ffffe8;border:1px solid #cc9;padding:6px;min-height:34px;z-index:2}\
#frame{display:flex;overflow-y:auto;border:1px solid #ccc;max-height:78vh}\
#names{flex:none;border-right:1px solid #ccc}#lanes{overflow-x:auto;flex:1}\
text.lane{font:11px monospace;fill:#333}text.tick{font:10px monospace;fill:#666}\
line.gap{stroke:#999;stroke-dasharray:4 3}line.arrow{stroke:#3366cc;stroke-width:1.2;opacity:.7}\
rect.violated{fill:#ff3333;opacity:.18}\
.ev{cursor:pointer}.ev:hover{opacity:.6}\
.http,.k.http{fill:#3366cc;color:#3366cc}.proc,.k.proc{fill:#8a5a2b;color:#8a5a2b}\
.files,.k.files{fill:#168a8a;color:#168a8a}.yield,.k.yield{fill:#f08c00;color:#f08c00}\
.pass,.k.pass{fill:#bbb;color:#999}.resume,.k.resume{fill:#2a9d2a;color:#2a9d2a}\
.bug,.k.bug{fill:#c2185b;color:#c2185b}.fault,.k.fault{fill:#7b3fbf;color:#7b3fbf}\
.violation,.k.violation{fill:#e00;color:#e00}.other{fill:#666}\
.pinned{stroke:#000;stroke-width:2}#all{display:none}";

const SCRIPT: &str = "var pinned=null;var box=document.getElementById('detail');\
var lanes=document.getElementById('lanes');lanes.scrollLeft=Math.max(0,+lanes.dataset.focus-lanes.clientWidth*0.7);\
function show(i){var d=document.getElementById('e'+i);if(d)box.innerHTML=d.innerHTML;}\
document.querySelectorAll('.ev').forEach(function(g){\
g.addEventListener('mouseenter',function(){if(pinned===null)show(g.dataset.i);});\
g.addEventListener('click',function(){if(pinned)pinned.classList.remove('pinned');\
if(pinned===g){pinned=null;return;}pinned=g;g.classList.add('pinned');show(g.dataset.i);});});";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn the_client_host_is_read_from_an_accepted_connection() {
        assert_eq!(
            peer_host("conn3 from 192.168.0.2:49152 (host client)"),
            Some("client")
        );
        assert_eq!(peer_host("conn3 from 192.168.0.2:49152"), None);
    }
}
