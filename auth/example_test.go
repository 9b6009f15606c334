package auth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/pa-connector/pa-connector/auth"
	"github.com/pa-connector/pa-connector/auth/authtest"
)

// One Cache per process; one Transport per job around a shared base
// transport. Two jobs with the same credentials share one token; when the
// resource server rejects it, the Transport fetches a new one and retries.
func Example() {
	tokens := authtest.NewServer("contoso-tenant", "app-id", "app-secret")
	defer tokens.Close()
	dataverse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !tokens.Authorized(r) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"statuscode":4}`)
	}))
	defer dataverse.Close()

	cache := auth.NewCache(&http.Client{}) // shared by all jobs
	creds := auth.Credentials{             // from one job's variables
		Type:                 auth.TypeClientCredentials,
		TokenURL:             tokens.TokenURL(),
		ClientID:             "app-id",
		ClientSecret:         "app-secret",
		Scopes:               auth.SplitScopes(authtest.Scope(dataverse.URL)),
		ClientAuthentication: "basicAuthHeader",
	}
	if err := creds.Validate(); err != nil {
		fmt.Println(err)
		return
	}

	runJob := func() {
		client := &http.Client{Transport: &auth.Transport{Base: http.DefaultTransport, Cache: cache, Credentials: creds}}
		resp, err := client.Get(dataverse.URL + "/api/data/v9.2/flowsessions(1)")
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println("status", resp.StatusCode, "token requests", cache.Fetches())
	}
	runJob()
	runJob()
	tokens.RevokeAll() // the cached token is rejected with 401
	runJob()

	// Output:
	// status 200 token requests 1
	// status 200 token requests 1
	// status 200 token requests 2
}

// Credentials print without their secrets, whatever the verb.
func ExampleCredentials_String() {
	creds := auth.Credentials{
		Type:         auth.TypeClientCredentials,
		TokenURL:     "https://login.microsoftonline.com/contoso-tenant/oauth2/v2.0/token",
		ClientID:     "app-id",
		ClientSecret: "app-secret",
		Scopes:       []string{"https://contoso.crm.dynamics.com/.default"},
	}
	fmt.Printf("%+v\n", creds)
	fmt.Printf("%v\n", auth.Credentials{Type: auth.TypeBearer, Token: "eyJ0eXAi..."})
	// Output:
	// {Type:oauth-client-credentials-flow TokenURL:https://login.microsoftonline.com/contoso-tenant/oauth2/v2.0/token ClientID:app-id ClientSecret:*** Scopes:["https://contoso.crm.dynamics.com/.default"] ClientAuthentication:}
	// {Type:bearer Token:***}
}
