"""What families, parents and staff do around a match: matches, visits, check-ins, sparring,
invites, tasks, escalations and alerts, surveys, inbound messages, import and people's data.

It sits on the clock-driven engine (:mod:`scheduler`) and the store; the bot and the web app call
it; it never imports them."""
