#!/usr/bin/env bash
# Route tests for exporters/alertmanager/alertmanager.yml: each line names the receivers an
# alert's labels must reach (amtool ignores time intervals, so both shift leads are listed for
# a page; which one is notified depends on the hour in Asia/Shanghai).
set -euo pipefail
config="$(dirname "$0")/../alertmanager.yml"
amtool check-config "$config" >/dev/null
failures=0

expect() {
  local receivers="$1"
  shift
  if amtool config routes test --config.file="$config" --verify.receivers="$receivers" "$@" \
      >/dev/null 2>&1; then
    echo "ok   $* -> $receivers"
  else
    echo "FAIL $* -> expected $receivers, got $(amtool config routes test \
      --config.file="$config" "$@" 2>/dev/null)"
    failures=$((failures + 1))
  fi
}

leads=ops-webhook,cn-day-shift-lead,cn-night-shift-lead
# Pages of the China marketplaces: the shift lead on duty (and the ops record).
expect "$leads" alertname=ReplyRoundAtRisk severity=page platform=tmall shop=s1 sla=first_reply_3m
expect "$leads" alertname=ReplyConversationAtRisk severity=page platform=douyin shop=s1 \
  sla=first_reply_60s conversation=c1
expect "$leads" alertname=ReplywatchDown severity=page job=replywatch
# Amazon and eBay pages reach the US team too (in its business hours).
expect "ops-webhook,us-shift-lead,$(echo $leads | cut -d, -f2-)" \
  alertname=ReplyConversationOverdue severity=page platform=amazon shop=s1 \
  sla=buyer_message_24h conversation=c1
expect "ops-webhook,us-shift-lead,$(echo $leads | cut -d, -f2-)" \
  alertname=ReplyDeadlineBreached severity=page platform=ebay shop=s1
# Tickets go to the mailbox only (muted outside service hours), never to a lead.
expect ops-webhook,tickets-email alertname=ReplySLOViolating severity=ticket platform=tmall \
  shop=s1 sla=every_reply_3m
expect ops-webhook,tickets-email alertname=ReplywatchRulesReloadFailed severity=ticket
# Without a severity nothing pages anyone: the ops record only.
expect ops-webhook alertname=SomethingElse platform=tmall

[ "$failures" -eq 0 ] || { echo "$failures route test(s) failed"; exit 1; }
