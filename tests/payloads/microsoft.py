"""Microsoft Entra ID: the token response and Graph's ``GET /me`` (``microsoft-graph``), and
the ID token claims the ``azuread-*`` backends use as their response.

https://learn.microsoft.com/en-us/graph/api/user-get
https://learn.microsoft.com/en-us/entra/identity-platform/id-token-claims-reference
"""

GRAPH_TOKEN = {
    "token_type": "Bearer",
    "scope": "User.Read profile openid email",
    "expires_in": 4245,
    "ext_expires_in": 4245,
    "access_token": "eyJ0eXAiOiJKV1QiLCJub25jZSI6IkFRQUJBQUFBQUFE.graph-access-token.sig",
    "refresh_token": "0.AXEAb8mgraph-refresh-token",
}
GRAPH_ME = {
    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
    "businessPhones": ["+1 412 555 0109"],
    "displayName": "Megan Bowen",
    "givenName": "Megan",
    "jobTitle": "Auditor",
    "mail": "MeganB@M365x214355.onmicrosoft.com",
    "mobilePhone": None,
    "officeLocation": "12/1110",
    "preferredLanguage": "en-US",
    "surname": "Bowen",
    "userPrincipalName": "MeganB@M365x214355.onmicrosoft.com",
    "id": "48d31887-5fad-4d73-a9f5-3c356e68a038",
}
AZUREAD_ID_TOKEN_CLAIMS = {
    "aud": "6cb04018-a3f5-46a7-b995-940c78f5aef3",
    "iss": "https://sts.windows.net/9122040d-6c67-4c5b-b112-36a304b66dad/",
    "iat": 1767225600,
    "nbf": 1767225600,
    "exp": 1767229500,
    "amr": ["pwd"],
    "family_name": "Lincoln",
    "given_name": "Abe",
    "ipaddr": "131.107.222.22",
    "name": "Abe Lincoln",
    "oid": "00000000-0000-0000-66f3-3332eca7ea81",
    "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
    "tid": "9122040d-6c67-4c5b-b112-36a304b66dad",
    "unique_name": "AbeLi@microsoft.com",
    "upn": "AbeLi@microsoft.com",
    "ver": "1.0",
}
