#!/usr/bin/env bash
# Stand-in for `dispatchctl provision apply` while it is being written: creates, through b24emu's /_emu/act as the
# admin (user 1), what the player (dispatch-demo) looks up in the portal: the "IT request" smart process (code
# it_request), its funnels Line 1 (the default one, renamed), Line 2 and Change requests with the stages of
# workplace/helpdesk.json, and every custom field of that process with its enumeration items (xmlId = spec xml_id).
# Only for developing and smoke-testing the player against the emulator alone; the demo itself runs dispatchctl.
#
#   tests/integration/demo/fake_provision.sh <emulator admin url, .../_emu/> <ca.pem> [workplace/helpdesk.json]
# Prints the entityTypeId. With SERVICE_URL, DISPATCH_DB and MEMBER_ID set, it also does dispatchctl's other half:
# binds the item events to dispatchd and stores the layout (provision::Layout JSON) in dispatchd's SQLite database.
set -euo pipefail
admin=$1
ca=$2
spec=${3:-"$(dirname "$0")/../../../workplace/helpdesk.json"}

act() {  # act <method> <params json> -> the REST body; fails on a non-200 status
  local out
  out=$(curl -sS --fail --cacert "$ca" -X POST "${admin}act" \
    -d "$(jq -cn --arg m "$1" --argjson p "$2" '{user_id: 1, method: $m, params: $p}')")
  if [[ $(jq -r .status <<<"$out") != 200 ]]; then
    echo "fake_provision: $1 failed: $out" >&2
    return 1
  fi
  jq -c .body <<<"$out"
}

proc=$(jq -c '.smart_processes[] | select(.purpose == "requests")' "$spec")
type=$(act crm.type.add "$(jq -c '{fields: {title: .title, code: .code, isCategoriesEnabled: "Y", isStagesEnabled: "Y",
  isBeginCloseDatesEnabled: "Y", isObserversEnabled: "Y", isAutomationEnabled: "Y", isBizProcEnabled: "Y"}}' <<<"$proc")")
entity=$(jq -r .result.type.entityTypeId <<<"$type")
type_id=$(jq -r .result.type.id <<<"$type")

default_cat=$(act crm.category.list "{\"entityTypeId\":$entity}" | jq -r '.result.categories[] | select(.isDefault == "Y") | .id')
nfunnels=$(jq '.funnels | length' <<<"$proc")
for ((f = 0; f < nfunnels; f++)); do
  funnel=$(jq -c ".funnels[$f]" <<<"$proc")
  name=$(jq -r .name.en <<<"$funnel")
  if [[ $(jq -r .is_default <<<"$funnel") == true ]]; then
    cat=$default_cat
    act crm.category.update "{\"entityTypeId\":$entity,\"id\":$cat,\"fields\":{\"name\":\"$name\"}}" >/dev/null
  else
    cat=$(act crm.category.add "{\"entityTypeId\":$entity,\"fields\":{\"name\":\"$name\"}}" | jq -r .result.category.id)
  fi
  dir="DYNAMIC_${entity}_STAGE_${cat}"
  have=$(act crm.status.list "{\"filter\":{\"ENTITY_ID\":\"$dir\"}}" | jq -c '[.result[] | {id: .ID, code: (.STATUS_ID | split(":") | last)}]')
  want=$(jq -c '[.stages[].code]' <<<"$funnel")
  # The default NEW/SUCCESS/FAIL stay (moved to the spec's sort first: no stage may follow the final ones); the other
  # defaults (PREPARATION, CLIENT) go; the spec's own are added.
  for code in $(jq -r '.[].code' <<<"$have"); do
    sort=$(jq -r --arg c "$code" '.stages[] | select(.code == $c) | .sort' <<<"$funnel")
    [[ -n $sort ]] || continue
    id=$(jq -r --arg c "$code" '.[] | select(.code == $c) | .id' <<<"$have")
    act crm.status.update "{\"id\":$id,\"fields\":{\"SORT\":$sort}}" >/dev/null
  done
  for id in $(jq -r --argjson w "$want" '.[] | select(.code as $c | $w | index($c) | not) | .id' <<<"$have"); do
    act crm.status.delete "{\"id\":$id,\"params\":{\"FORCED\":\"Y\"}}" >/dev/null
  done
  for code in $(jq -r --argjson h "$have" '.stages[] | select(.code as $c | [$h[].code] | index($c) | not) | .code' <<<"$funnel"); do
    stage=$(jq -c --arg c "$code" '.stages[] | select(.code == $c)' <<<"$funnel")
    sem=$(jq -r '.semantics | if . == "success" then "S" elif . == "failure" then "F" else "" end' <<<"$stage")
    act crm.status.add "$(jq -c --arg dir "$dir" --arg sem "$sem" \
      '{fields: {ENTITY_ID: $dir, STATUS_ID: .code, NAME: .name.en, SORT: .sort, COLOR: .color, SEMANTICS: $sem}}' <<<"$stage")" >/dev/null
  done
done

nfields=$(jq '.fields | length' <<<"$proc")
for ((i = 0; i < nfields; i++)); do
  act userfieldconfig.add "$(jq -c --arg t "$type_id" ".fields[$i] | {moduleId: \"crm\", field: {
      entityId: (\"CRM_\" + \$t), fieldName: (\"UF_CRM_\" + \$t + \"_\" + .code), userTypeId: .type,
      editFormLabel: .label, sort: .sort, settings: (.settings // {}),
      enum: [(.items // [])[] | {value: .value, xmlId: .xml_id, sort: .sort, def: \"N\"}]}}" <<<"$proc")" >/dev/null
done
if [[ -n ${SERVICE_URL:-} && -n ${DISPATCH_DB:-} && -n ${MEMBER_ID:-} ]]; then
  for ev in ONCRMDYNAMICITEMADD ONCRMDYNAMICITEMUPDATE ONCRMDYNAMICITEMDELETE; do
    act event.bind "{\"event\":\"$ev\",\"handler\":\"$SERVICE_URL/b24/events\"}" >/dev/null
  done
  cats=$(act crm.category.list "{\"entityTypeId\":$entity}" | jq -c .result.categories)
  funnels='[]'
  for ((f = 0; f < nfunnels; f++)); do
    funnel=$(jq -c ".funnels[$f]" <<<"$proc")
    name=$(jq -r .name.en <<<"$funnel")
    cat=$(jq -r --arg n "$name" '.[] | select(.name == $n) | .id' <<<"$cats")
    rows=$(act crm.status.list "{\"filter\":{\"ENTITY_ID\":\"DYNAMIC_${entity}_STAGE_${cat}\"}}" | jq -c .result)
    funnels=$(jq -c --argjson f "$funnel" --argjson rows "$rows" --argjson cat "$cat" '. + [{code: $f.code,
      category_id: $cat, is_default: $f.is_default, stages: [$f.stages[] | . as $s | {code: $s.code, role: $s.role,
      status_id: ($rows[] | select(.STATUS_ID | endswith(":" + $s.code)) | .STATUS_ID),
      id: ($rows[] | select(.STATUS_ID | endswith(":" + $s.code)) | .ID | tonumber)}]}]' <<<"$funnels")
  done
  fields=$(act userfieldconfig.list "{\"moduleId\":\"crm\",\"filter\":{\"entityId\":\"CRM_$type_id\"}}" | jq -c \
    --arg p "UF_CRM_${type_id}_" '[.result.fields[] | {code: (.fieldName | ltrimstr($p)), uf_name: .fieldName,
      id: (.id | tonumber), enum_ids: ((.enum // []) | map({(.xmlId): (.id | tonumber)}) | add // {})}]')
  layout=$(jq -cn --argjson funnels "$funnels" --argjson fields "$fields" --arg code "$(jq -r .code <<<"$proc")" \
    --argjson t "$type_id" --argjson e "$entity" '{version: 1, workplace_id: 0, processes: [{code: $code,
      type_id: $t, entity_type_id: $e, funnels: $funnels, fields: $fields}]}')
  sqlite3 "$DISPATCH_DB" "insert or replace into portal_settings (member_id, key, json, updated_at)
    values ('$MEMBER_ID', 'layout', '$layout', 0)"
fi
echo "$entity"
