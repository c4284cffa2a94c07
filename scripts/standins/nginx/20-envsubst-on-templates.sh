#!/bin/sh
# /etc/nginx/templates/*.template -> /etc/nginx/conf.d/* through envsubst, substituting
# only variables that are defined (as the official image's script does).
set -e

ME=$(basename "$0")
template_dir="${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}"
suffix="${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}"
output_dir="${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}"
filter="${NGINX_ENVSUBST_FILTER:-}"

log() {
    [ -n "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ] || echo "$ME: $*"
}

[ -d "$template_dir" ] || exit 0
if [ ! -w "$output_dir" ]; then
    log "ERROR: $template_dir exists, but $output_dir is not writable"
    exit 0
fi

defined_envs=$(printf '${%s} ' $(awk "END { for (name in ENVIRON) { print ( name ~ /${filter}/ ) ? name : \"\" } }" < /dev/null))
find "$template_dir" -follow -type f -name "*$suffix" -print | while read -r template; do
    relative_path="${template#"$template_dir/"}"
    output_path="$output_dir/${relative_path%"$suffix"}"
    mkdir -p "$output_dir/$(dirname "$relative_path")"
    log "Running envsubst on $template to $output_path"
    envsubst "$defined_envs" < "$template" > "$output_path"
done
