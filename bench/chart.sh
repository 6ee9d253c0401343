#!/usr/bin/env bash
# Draws the medians of a results.jsonl (from netns-harness.sh) as an SVG bar chart: a→b, a→b
# with 4 streams and a→c (relayed) per system, on a log scale so raw veth and the overlays fit
# one picture. Needs jq only.
#   bench/chart.sh /tmp/hypha-bench/results.jsonl > chart.svg
set -euo pipefail
[ $# = 1 ] || { echo "usage: $0 results.jsonl > chart.svg" >&2; exit 2; }
jq -rs '
  def med: sort | if length == 0 then 0 else .[(length / 2 | floor)] end;
  def esc: gsub("&"; "&amp;") | gsub("<"; "&lt;");
  # log10 scale from 10 Mbit/s to 100 Gbit/s over 560 px.
  def x: if . <= 10 then 0 else ((log / (10 | log)) - 1) * 140 end;
  group_by(.system)
  | map({system: .[0].system, ab: (map(.ab_mbit) | med), ab4: (map(.ab_p4_mbit) | med),
         ac: (map(.ac_mbit) | med)})
  | sort_by(-.ab) as $rows
  | ($rows | length) as $n
  | [{k: "ab", label: "a→b", color: "#2b6cb0"}, {k: "ab4", label: "a→b, 4 streams", color: "#63b3ed"},
     {k: "ac", label: "a→c (relayed)", color: "#dd6b20"}] as $series
  | (60 + $n * 70 + 40) as $h
  | "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"820\" height=\"\($h)\" font-family=\"sans-serif\" font-size=\"12\">",
    "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
    "<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">iperf3 TCP over each overlay, chain a—b—c in network namespaces (median Mbit/s, log scale)</text>",
    ($series | to_entries[] | "<rect x=\"\(150 + .key * 170)\" y=\"32\" width=\"12\" height=\"12\" fill=\"\(.value.color)\"/><text x=\"\(166 + .key * 170)\" y=\"43\">\(.value.label)</text>"),
    ([10, 100, 1000, 10000, 100000][] as $t
      | "<line x1=\"\(140 + ($t | x))\" y1=\"55\" x2=\"\(140 + ($t | x))\" y2=\"\($h - 30)\" stroke=\"#ddd\"/><text x=\"\(140 + ($t | x))\" y=\"\($h - 15)\" text-anchor=\"middle\" fill=\"#555\">\(if $t >= 1000 then "\($t / 1000) G" else "\($t) M" end)</text>"),
    ($rows | to_entries[] | .key as $i | .value as $r
      | "<text x=\"130\" y=\"\(60 + $i * 70 + 36)\" text-anchor=\"end\" font-weight=\"bold\">\($r.system | esc)</text>",
        ($series | to_entries[] | .key as $j | .value as $s | ($r[$s.k] // 0) as $v
          | "<rect x=\"140\" y=\"\(60 + $i * 70 + 8 + $j * 18)\" width=\"\([($v | x), 1] | max)\" height=\"15\" fill=\"\($s.color)\"/><text x=\"\(146 + ($v | x))\" y=\"\(60 + $i * 70 + 20 + $j * 18)\" fill=\"#222\">\($v)</text>")),
    "</svg>"
' "$1"
