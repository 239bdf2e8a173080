#!/bin/sh
# Runs `node bin/boxoffice.js <role>` after turning each VAR_FILE variable (a Docker or Kubernetes secret
# mounted as a file, e.g. MASTER_KEY_FILE=/run/secrets/master_key) into VAR, so secrets never sit in the
# compose file or the environment listing of the container definition.
set -eu
for pair in $(env | sed -n 's/^\([A-Z_][A-Z0-9_]*\)_FILE=.*/\1/p'); do
  file=$(printenv "${pair}_FILE")
  if [ ! -r "$file" ]; then
    echo "boxoffice-entrypoint: ${pair}_FILE=${file} is not a readable file" >&2
    exit 78
  fi
  value=$(cat "$file")
  export "${pair}=${value}"
  unset "${pair}_FILE"
done
# BOXOFFICE_HOME: where the application is (the image: /app; test/deploy/compose-boot.test.ts: the checkout).
exec node "${BOXOFFICE_HOME:-/app}/bin/boxoffice.js" "$@"
