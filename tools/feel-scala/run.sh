#!/usr/bin/env bash
# Evaluates base64 expressions (stdin, one a line) with feel-scala 1.18.1, the FEEL engine of
# Zeebe 8.5, fetched once by Maven (Apache-2.0). Not part of CI: see docs/feel.md.
set -euo pipefail
V=1.18.1
R=${MAVEN_REPO:-$HOME/.m2/repository}
J=$R/org/camunda/feel/feel-engine/$V/feel-engine-$V.jar
[ -f "$J" ] || mvn -q dependency:get -Dartifact=org.camunda.feel:feel-engine:$V >&2
CP=$J:$R/org/scala-lang/scala-library/2.13.14/scala-library-2.13.14.jar:$R/com/lihaoyi/fastparse_2.13/3.1.1/fastparse_2.13-3.1.1.jar:$R/com/lihaoyi/sourcecode_2.13/0.4.0/sourcecode_2.13-0.4.0.jar:$R/com/lihaoyi/geny_2.13/1.1.0/geny_2.13-1.1.0.jar:$R/org/slf4j/slf4j-api/1.7.25/slf4j-api-1.7.25.jar:$R/com/fasterxml/uuid/java-uuid-generator/5.1.0/java-uuid-generator-5.1.0.jar
exec java -cp "$CP" "$(dirname "$0")/Oracle.java"
