"""Every text the bot writes, in Danish and English, keyed by name.

Plain text (the bot sends no parse_mode, so nothing needs escaping). Placeholders use
``str.format``; :func:`t` fills them. Keep the Danish short and plain: the families are busy and
read these on a phone.
"""

from __future__ import annotations

from typing import Any

LOCALES = ("da", "en")

TEXTS: dict[str, dict[str, str]] = {
    # -- linking and help ----------------------------------------------------------------------
    "help_unlinked": {
        "da": (
            "Hej! Denne bot bruges af venskabsfamilier og medarbejdere i vores "
            "venskabsfamilie-forløb.\n\n"
            "For at komme i gang skal I åbne det personlige link, I har fået af jeres "
            "procesleder. Har I ikke fået et link, eller er det udløbet, så bed "
            "jeres procesleder om et nyt."
        ),
        "en": (
            "Hi! This bot is used by volunteer families and staff in our friendship-family "
            "programmes.\n\n"
            "To get started, open the personal link your case lead gave you. If you have no "
            "link, or it has expired, ask your case lead for a new one."
        ),
    },
    "invite_unknown": {
        "da": (
            "Det link kender vi desværre ikke. Måske blev det ikke kopieret helt. "
            "Bed jeres procesleder om et nyt link."
        ),
        "en": (
            "Sorry, we don't recognise that link. Perhaps it was not copied in full. "
            "Ask your case lead for a new link."
        ),
    },
    "invite_expired": {
        "da": (
            "Linket er udløbet: et link gælder i 14 dage. Bed jeres procesleder om et nyt link."
        ),
        "en": (
            "The link has expired: a link is valid for 14 days. Ask your case lead for a new one."
        ),
    },
    "invite_used": {
        "da": (
            "Linket er allerede brugt: et link kan kun bruges én gang. Skal I forbinde en ny "
            "telefon, så bed jeres procesleder om et nyt link."
        ),
        "en": (
            "The link has already been used: a link works only once. To connect a new phone, "
            "ask your case lead for a new link."
        ),
    },
    "linked_family": {
        "da": (
            "Velkommen, {contact}! Nu er {family} forbundet med {organisation}.\n\n"
            "Det gemmer vi: jeres svar om besøgene (dato, og om besøget blev til noget), hvordan "
            "det går, og de beskeder, I skriver her. {child} nævnes kun med fornavn. Skriv "
            "aldrig CPR-numre: vi fjerner dem automatisk.\n\n"
            "Det ser kun {staff} og de medarbejdere i {organisation}, der følger jeres forløb. "
            "Vi deler det ikke med andre.\n\n"
            "På besøgsdagen spørger vi, om {child} kom på besøg: ét tryk er nok. Skriv bare "
            "her, hvis I har noget på hjerte, så sender vi det videre. Knappen nederst er til, "
            "hvis I bliver bekymrede for noget. /help viser, hvad I ellers kan."
        ),
        "en": (
            "Welcome, {contact}! {family} is now connected to {organisation}.\n\n"
            "What we store: your answers about the visits (the date, and whether the visit "
            "happened), how things are going, and the messages you write here. {child} is "
            "named by first name only. Never write CPR numbers: we remove them automatically."
            "\n\n"
            "Who sees it: only {staff} and the staff at {organisation} who follow your match. "
            "We don't share it with anyone else.\n\n"
            "On the visit day we ask whether {child} came: one tap is enough. Just write here "
            "if something is on your mind, and we pass it on. The button at the bottom is for "
            "when you are worried about something. /help shows what else you can do."
        ),
    },
    "linked_staff": {
        "da": (
            "Velkommen, {name}. Denne chat er nu forbundet som medarbejder: her får du besked, "
            "når en familie skriver, er bekymret eller vil stoppe.\n\n{help}"
        ),
        "en": (
            "Welcome, {name}. This chat is now connected as staff: you are told here when a "
            "family writes, is worried or wants to stop.\n\n{help}"
        ),
    },
    "help_family": {
        "da": (
            "Det kan I her:\n"
            "/checkin – fortæl, hvordan det går\n"
            "/plan – jeres årshjul\n"
            "/next – hvad der sker næste gang\n"
            "/calendar – besøg og aftaler i jeres kalender\n"
            "/pause – sæt besøgsbeskederne på pause, fx i sommerferien\n"
            "/stop – hvis I ønsker at stoppe forløbet\n"
            "/language – sprog (dansk/English)\n"
            "/cancel – afbryd det, I er i gang med\n\n"
            "Skriv en almindelig besked, så sender vi den til {staff}. "
            'Er I bekymrede for noget, så tryk på "{worry}".'
        ),
        "en": (
            "What you can do here:\n"
            "/checkin – tell us how things are going\n"
            "/plan – your year plan\n"
            "/next – what happens next\n"
            "/calendar – visits and dates in your calendar\n"
            "/pause – pause the visit messages, e.g. for the summer holiday\n"
            "/stop – if you want to end the match\n"
            "/language – language (dansk/English)\n"
            "/cancel – cancel what you are in the middle of\n\n"
            "Write an ordinary message and we pass it on to {staff}. "
            'If you are worried about something, tap "{worry}".'
        ),
    },
    # -- the calendar feed ----------------------------------------------------------------------
    "calendar_new": {
        "da": (
            "Her er jeres kalender med besøgsdage, fælles sparring og årsdagen:\n{url}\n\n"
            "Tilføj den i telefonens kalender som abonnement (iPhone: Indstillinger > Kalender > "
            "Konti > Tilføj konto > Andet > Tilføj abonnent-kalender; Google Kalender: Andre "
            "kalendere > Fra webadresse). Den opdaterer sig selv.\n\n"
            "Linket er personligt: del det kun med jeres egen familie. Skriv /calendar stop for "
            "at lukke det."
        ),
        "en": (
            "Here is your calendar with visit days, group sparring and the anniversary:\n{url}"
            "\n\n"
            "Add it to your phone's calendar as a subscription (iPhone: Settings > Calendar > "
            "Accounts > Add Account > Other > Add Subscribed Calendar; Google Calendar: Other "
            "calendars > From URL). It updates itself.\n\n"
            "The link is personal: share it only within your own family. Write /calendar stop "
            "to close it."
        ),
    },
    "calendar_exists": {
        "da": (
            "I har allerede et kalenderlink (fra {date}). Af hensyn til jeres data viser vi det "
            "ikke igen.\n\n"
            "/calendar new – et nyt link (det gamle holder op med at virke)\n"
            "/calendar stop – luk kalenderlinket"
        ),
        "en": (
            "You already have a calendar link (from {date}). To protect your data we do not "
            "show it again.\n\n"
            "/calendar new – a new link (the old one stops working)\n"
            "/calendar stop – close the calendar link"
        ),
    },
    "calendar_stopped": {
        "da": "Kalenderlinket er lukket. Skriv /calendar, hvis I vil have et nyt.",
        "en": "The calendar link is closed. Write /calendar if you want a new one.",
    },
    "calendar_none": {
        "da": "I har ikke noget kalenderlink. Skriv /calendar for at få et.",
        "en": "You have no calendar link. Write /calendar to get one.",
    },
    "calendar_unknown": {
        "da": "Det forstod jeg ikke. Skriv /calendar, /calendar new eller /calendar stop.",
        "en": "I did not understand that. Write /calendar, /calendar new or /calendar stop.",
    },
    "help_staff": {
        "da": (
            "/today – dine opgaver og åbne sager\n"
            "/match ID – overblik over et match\n"
            "/language – sprog (dansk/English)"
        ),
        "en": (
            "/today – your tasks and open cases\n"
            "/match ID – summary of a match\n"
            "/language – language (dansk/English)"
        ),
    },
    "welcome_back": {
        "da": "Hej igen! I er allerede forbundet.",
        "en": "Hello again! You are already connected.",
    },
    # -- buttons ---------------------------------------------------------------------------------
    "btn_visited": {"da": "✅ Kom på besøg", "en": "✅ Visited"},
    "btn_cancelled": {"da": "❌ Aflyst", "en": "❌ Cancelled"},
    "btn_moved": {"da": "📅 Flyttet", "en": "📅 Moved"},
    "btn_worry": {"da": "⚠️ Jeg er bekymret for noget", "en": "⚠️ I'm worried about something"},
    "btn_no_thanks": {"da": "Nej tak", "en": "No thanks"},
    "btn_who_child_family": {"da": "Barnets familie", "en": "The child's family"},
    "btn_who_volunteer_family": {"da": "Os (venskabsfamilien)", "en": "Us (volunteer family)"},
    "btn_who_illness": {"da": "Sygdom", "en": "Illness"},
    "btn_who_other": {"da": "Andet", "en": "Other"},
    "btn_rsvp_yes": {"da": "👍 Ja, vi kommer", "en": "👍 Yes, we'll come"},
    "btn_rsvp_maybe": {"da": "🤔 Måske", "en": "🤔 Maybe"},
    "btn_rsvp_no": {"da": "👎 Nej", "en": "👎 No"},
    "btn_stop_yes": {"da": "Ja, vi ønsker at stoppe", "en": "Yes, we want to stop"},
    "btn_stop_no": {"da": "Nej, vi fortsætter", "en": "No, we'll continue"},
    "btn_ack": {"da": "✓ Kvittér #{id}", "en": "✓ Acknowledge #{id}"},
    # -- visits ----------------------------------------------------------------------------------
    "visit_visited": {
        "da": (
            "✅ Tak! Besøget {date} er noteret.\n\nHvordan gik det? 1 = dårligt, 5 = rigtig godt."
        ),
        "en": (
            "✅ Thank you! The visit on {date} is noted.\n\n"
            "How did it go? 1 = badly, 5 = very well."
        ),
    },
    "visit_times": {
        "da": (
            "✅ Tak! {times} gange er noteret.\n\nHvordan gik det? 1 = dårligt, 5 = rigtig godt."
        ),
        "en": "✅ Thank you! {times} times is noted.\n\nHow did it go? 1 = badly, 5 = very well.",
    },
    "visit_none": {
        "da": "Tak for besked. Vi har noteret, at I ikke har set {child} i denne uge.",
        "en": "Thanks for letting us know. We have noted that you did not see {child} this week.",
    },
    "visit_cancelled": {
        "da": "Øv, tak for besked. Hvem aflyste besøget {date}?",
        "en": "Oh dear, thanks for letting us know. Who cancelled the visit on {date}?",
    },
    "visit_cancelled_why": {
        "da": "Tak. Vil I skrive kort hvorfor? Det er frivilligt.",
        "en": "Thank you. Would you like to write briefly why? It's optional.",
    },
    "visit_moved": {
        "da": "Hvilken dag er besøget flyttet til? Vælg en dag, eller skriv datoen (fx 12/3).",
        "en": "Which day has the visit moved to? Pick a day, or write the date (e.g. 12/3).",
    },
    "visit_moved_saved": {
        "da": "📅 Tak! Besøget er flyttet til {date}.",
        "en": "📅 Thank you! The visit has moved to {date}.",
    },
    "note_saved": {
        "da": "Tak, det er noteret.",
        "en": "Thank you, it's noted.",
    },
    "bad_date": {
        "da": "Den dato kunne jeg ikke læse. Skriv fx 12/3 eller 2026-03-12.",
        "en": "I could not read that date. Write e.g. 12/3 or 2026-03-12.",
    },
    # -- check-ins and worries -------------------------------------------------------------------
    "checkin_ask": {
        "da": "Hvordan går det med {child}? 1 = dårligt, 5 = rigtig godt.",
        "en": "How are things going with {child}? 1 = badly, 5 = very well.",
    },
    "checkin_saved": {
        "da": "Tak for jeres svar ({mood}/5). Vil I fortælle mere? Skriv det bare her.",
        "en": (
            "Thanks for your answer ({mood}/5). Would you like to tell us more? Just write it here."
        ),
    },
    "checkin_text_saved": {
        "da": "Tak, det er gemt. {staff} kan læse det.",
        "en": "Thank you, it's saved. {staff} can read it.",
    },
    "worry_ask": {
        "da": (
            "Tak fordi I siger det. {staff} har fået besked og kontakter jer hurtigst muligt."
            "\n\nSkriv gerne kort, hvad I er bekymrede for."
        ),
        "en": (
            "Thank you for telling us. {staff} has been told and will contact you as soon as "
            "possible.\n\nPlease write briefly what you are worried about."
        ),
    },
    "worry_saved": {
        "da": (
            "Tak. {staff} har fået jeres besked og kontakter jer hurtigst muligt.{phone}\n\n"
            "Er et barn i akut fare, så ring 112."
        ),
        "en": (
            "Thank you. {staff} has your message and will contact you as soon as possible."
            "{phone}\n\nIf a child is in immediate danger, call 112."
        ),
    },
    "worry_phone": {
        "da": " I kan også selv ringe på {phone}.",
        "en": " You can also call {phone} yourselves.",
    },
    "message_passed_on": {
        "da": "Tak, jeres besked er sendt videre til {staff}.",
        "en": "Thank you, your message has been passed on to {staff}.",
    },
    "non_text": {
        "da": "Jeg kan kun læse tekst her. Skriv gerne en besked, så sender vi den videre.",
        "en": "I can only read text here. Write a message and we will pass it on.",
    },
    "done": {"da": "Fint, tak!", "en": "Fine, thank you!"},
    "cancelled_input": {"da": "OK, det er afbrudt.", "en": "OK, cancelled."},
    # -- year plan -------------------------------------------------------------------------------
    "plan_title": {
        "da": "Årshjul for {child} og {family} ({programme}):",
        "en": "Year plan for {child} and {family} ({programme}):",
    },
    "plan_legend": {"da": "✓ = har fundet sted", "en": "✓ = has happened"},
    "next_visit": {"da": "Næste besøg: {date}.", "en": "Next visit: {date}."},
    "next_visit_paused": {
        "da": "Besøgsbeskederne er sat på pause.",
        "en": "The visit messages are paused.",
    },
    "next_event": {"da": "Derefter: {what}, {date}.", "en": "After that: {what}, {date}."},
    "next_nothing": {
        "da": "Der er ikke flere planlagte aktiviteter i forløbet.",
        "en": "There is nothing more planned in this match.",
    },
    # -- pause and stop --------------------------------------------------------------------------
    "pause_ask": {
        "da": "Hvornår holder I pause? Skriv første og sidste dag, fx 1/7-9/8.",
        "en": "When are you taking a break? Write the first and last day, e.g. 1/7-9/8.",
    },
    "pause_saved": {
        "da": (
            "Pausen er noteret: fra {first} til og med {last}. Vi spørger ikke til besøg i den "
            "periode."
        ),
        "en": "The pause is noted: from {first} to {last}. We won't ask about visits then.",
    },
    "pause_bad": {
        "da": "Det kunne jeg ikke læse. Skriv første og sidste dag, fx 1/7-9/8.",
        "en": "I could not read that. Write the first and last day, e.g. 1/7-9/8.",
    },
    "pause_invalid": {
        "da": "En pause skal starte i dag eller senere, inden for to år, og højst vare et år. "
        "Prøv igen.",
        "en": "A pause must start today or later, within two years, and last at most a year. "
        "Please try again.",
    },
    "pause_overlap": {
        "da": "Der er allerede en pause i den periode. Kontakt {staff}, hvis den skal ændres.",
        "en": "There is already a pause in that period. Contact {staff} to change it.",
    },
    "stop_confirm": {
        "da": (
            "Vil I stoppe forløbet med {child}? Det er helt i orden at sige fra. "
            "{staff} kontakter jer bagefter for at tale om det."
        ),
        "en": (
            "Do you want to end the match with {child}? It is perfectly fine to say so. "
            "{staff} will contact you afterwards to talk about it."
        ),
    },
    "stop_done": {
        "da": (
            "Tak fordi I sagde det. Vi har noteret, at I ønsker at stoppe, og {staff} kontakter "
            "jer snarest.\n\nVil I skrive kort hvorfor? Det er frivilligt."
        ),
        "en": (
            "Thank you for telling us. We have noted that you want to stop, and {staff} will "
            "contact you soon.\n\nWould you like to write briefly why? It's optional."
        ),
    },
    "stop_kept": {
        "da": "Dejligt, så fortsætter I som hidtil.",
        "en": "Lovely, then you carry on as before.",
    },
    "stop_reason_saved": {
        "da": "Tak. Det er sendt til {staff}.",
        "en": "Thank you. It has been passed on to {staff}.",
    },
    # -- sparring --------------------------------------------------------------------------------
    "rsvp_saved": {
        "da": "Tak for svaret: {answer}. I kan ændre det her indtil mødet.",
        "en": "Thanks for your answer: {answer}. You can change it here until the meeting.",
    },
    "rsvp_yes": {"da": "I kommer", "en": "you are coming"},
    "rsvp_maybe": {"da": "måske", "en": "maybe"},
    "rsvp_no": {"da": "I kommer ikke", "en": "you are not coming"},
    # -- general ---------------------------------------------------------------------------------
    "language_ask": {"da": "Vælg sprog / Choose language", "en": "Choose language / Vælg sprog"},
    "language_set": {"da": "Sproget er nu dansk.", "en": "The language is now English."},
    "expired": {"da": "Denne knap er udløbet.", "en": "This button has expired."},
    "no_match": {
        "da": "Vi kan ikke finde et igangværende forløb for jer. Kontakt jeres procesleder.",
        "en": "We cannot find an ongoing match for you. Please contact your case lead.",
    },
    "choose_match": {"da": "Hvilket barn gælder det?", "en": "Which child is it about?"},
    "error": {
        "da": "Beklager, noget gik galt. En medarbejder har fået besked.",
        "en": "Sorry, something went wrong. A member of staff has been told.",
    },
    "your_case_lead": {"da": "jeres procesleder", "en": "your case lead"},
    "our_organisation": {"da": "os", "en": "us"},
    # -- staff -----------------------------------------------------------------------------------
    "today_title": {"da": "I dag, {date}", "en": "Today, {date}"},
    "today_tasks": {"da": "Opgaver:", "en": "Tasks:"},
    "today_no_tasks": {"da": "Ingen opgaver i dag.", "en": "No tasks today."},
    "today_escalations": {"da": "Åbne sager:", "en": "Open cases:"},
    "today_no_escalations": {"da": "Ingen åbne sager.", "en": "No open cases."},
    "urgent": {"da": "HASTER", "en": "URGENT"},
    "overdue": {"da": "forfalden", "en": "overdue"},
    "ack_done": {"da": "Kvitteret: #{id}.", "en": "Acknowledged: #{id}."},
    "snooze_done": {
        "da": "Udsat til {day}: #{id}. Vi minder dig om sagen den dag.",
        "en": "Snoozed until {day}: #{id}. We will remind you of it that day.",
    },
    "match_usage": {
        "da": "Skriv /match og et nummer, fx /match 12.",
        "en": "Write /match and a number, e.g. /match 12.",
    },
    "match_not_found": {
        "da": "Jeg kan ikke finde et match med nummer {id}, som du følger.",
        "en": "I cannot find a match number {id} that you follow.",
    },
    "alert_worry": {
        "da": (
            "⚠️ HASTER: {family} er bekymret for {child} (match {match}).\n\n{text}\n\n"
            "Ring til familien i dag."
        ),
        "en": (
            "⚠️ URGENT: {family} is worried about {child} (match {match}).\n\n{text}\n\n"
            "Call the family today."
        ),
    },
    "alert_message": {
        "da": "Besked fra familien: {family} (match {match}, {child}):\n\n{text}",
        "en": "Message from the family: {family} (match {match}, {child}):\n\n{text}",
    },
    "alert_stop": {
        "da": "{family} ønsker at stoppe forløbet med {child} (match {match}).\n\n{text}",
        "en": "{family} wants to end the match with {child} (match {match}).\n\n{text}",
    },
    "alert_no_text": {"da": "(ingen tekst endnu)", "en": "(no text yet)"},
    "alert_error": {
        "da": "Botten fik en fejl ({error}) ved opdatering {update}. Detaljerne står i loggen.",
        "en": "The bot hit an error ({error}) on update {update}. The details are in the log.",
    },
    "status_active": {"da": "aktiv", "en": "active"},
    "status_waiting": {"da": "venter", "en": "waiting"},
    "status_paused": {"da": "på pause", "en": "paused"},
    "status_ended": {"da": "afsluttet", "en": "ended"},
    "visit_status_visited": {"da": "besøg", "en": "visited"},
    "visit_status_cancelled": {"da": "aflyst", "en": "cancelled"},
    "visit_status_moved": {"da": "flyttet", "en": "moved"},
    "visit_status_missed": {"da": "ikke besvaret", "en": "not answered"},
    "match_summary": {
        "da": (
            "Match {match}: {child} og {family}\n"
            "{programme}, {status}. Start {start}, besøg om {weekday}en.\n"
            "Telegram: {telegram}"
        ),
        "en": (
            "Match {match}: {child} and {family}\n"
            "{programme}, {status}. Started {start}, visits on {weekday}s.\n"
            "Telegram: {telegram}"
        ),
    },
    "linked": {"da": "forbundet", "en": "connected"},
    "not_linked": {"da": "ikke forbundet", "en": "not connected"},
    "recent_visits": {"da": "Seneste besøg:", "en": "Recent visits:"},
    "recent_checkins": {"da": "Seneste check-ins:", "en": "Recent check-ins:"},
    "none": {"da": "ingen", "en": "none"},
    "worried": {"da": "bekymring", "en": "worry"},
    # -- the child's voice ---------------------------------------------------------------------
    "btn_child_voice_start": {"da": "Start spørgsmålene", "en": "Start the questions"},
    "child_voice_question": {
        "da": "Spørg {child} ({number} af {total}):\n\n{question}\n\nTryk på det ansigt, {child} vælger.",
        "en": "Ask {child} ({number} of {total}):\n\n{question}\n\nTap the face {child} chooses.",
    },
    "child_voice_open": {
        "da": (
            "Tak! Til sidst et åbent spørgsmål til {child}:\n\n{question}\n\n"
            "Skriv svaret her, gerne med {child}s egne ord."
        ),
        "en": (
            "Thank you! Finally, an open question for {child}:\n\n{question}\n\n"
            "Write the answer here, in {child}'s own words if you can."
        ),
    },
    "child_voice_saved": {
        "da": "Tak! Vi har gemt {child}s svar. {staff} kan se dem.",
        "en": "Thank you! We have saved {child}'s answers. {staff} can see them.",
    },
}


def t(key: str, locale: str, **values: Any) -> str:
    """The text ``key`` in ``locale`` (Danish when the locale is unknown), filled in."""
    variants = TEXTS[key]
    text = variants.get(locale) or variants["da"]
    return text.format(**values) if values else text


def all_variants(key: str) -> set[str]:
    """The text in every language: to recognise a reply-keyboard button, whatever the locale."""
    return set(TEXTS[key].values())
