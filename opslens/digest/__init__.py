"""The Monday digest: a PDF and an e-mail per recipient, showing only the markets they may see.

`content` gathers the numbers (every one a dataset, through the same query door as the app),
`pdf` lays them out with Kaleido charts, `mail` writes and sends the message, `state` remembers the
last snapshot each recipient was sent, and `run` ties them together for `opslens digest`.
"""
