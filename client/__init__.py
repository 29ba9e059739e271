"""The web client: HTML, CSS and JavaScript modules served as they are, no build step.

Served at /static/ (the folders below are paths under it):

    shared/  what every page uses: strings, icons, DOM helpers and toasts, the common stylesheet
    call/    the call page (/, /call/ID): home and scheduling, the call session (session.js,
             its parts by concern in session/) and the call screen (view.js, parts in view/)
    chats/   the chats page (/chats, /school/ID): chat list, one open chat, uploads, voice, schools
    pages/   the smaller pages: log in, password reset, chat invite, a broadcast's watch page
"""

from pathlib import Path

DIR = Path(__file__).parent
