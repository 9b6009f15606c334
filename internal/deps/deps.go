package deps

import (
	_ "github.com/camunda/zeebe/clients/go/v8/pkg/zbc"
	_ "github.com/expr-lang/expr"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/rs/zerolog"
	_ "golang.org/x/oauth2/clientcredentials"
)
