package language

// Profile is what the detector knows about one language: its function
// words (strong evidence, short and frequent), other frequent words of
// helpdesk and shop questions (evidence), and spelling cues (weak
// evidence that also works on words it never saw, typos included). To add
// a language, add a Profile to Builtin and list its code in Config.
type Profile struct {
	Code string // ISO 639-1, e.g. "de"
	// Function words (articles, pronouns, prepositions, auxiliaries,
	// question words), lower case. Words two languages share in everyday
	// writing ("in", "so", "was") belong to neither.
	Function []string
	// Words are frequent content words (verbs, nouns, adjectives).
	Words []string
	// Letters are characters only this language uses among the
	// configured ones (ä, ö, ü, ß for German).
	Letters string
	// Suffixes and Infixes are spelling cues: word endings and letter
	// groups typical of the language.
	Suffixes []string
	Infixes  []string
}

// Builtin are the shipped profiles, keyed by code.
var Builtin = map[string]Profile{
	"de": {
		Code: "de",
		Function: words(`der die das den dem des ein eine einen einem einer eines und oder aber sondern nicht
			kein keine keinen keinem keiner ich mich mir mein meine meinen meinem meiner meins du dich dir dein deine
			er ihn ihm sie ihr ihre ihren ihrem ihnen es wir uns unser unsere unseren unserem euch euer eure sich
			ist bin bist sind seid wird werden wurde wurden habe hab hast hat haben hatte hatten kann kannst können
			könnt könnte muss musst müssen soll sollte sollen möchte möchten mag darf dürfen wie wer wo wann warum
			wieso weshalb welche welcher welches welchen welchem womit wohin woher wofür worauf mit von vom zu zum zur
			bei beim auf aus für über unter nach vor hinter neben zwischen durch gegen ohne seit bis ins dass daß ob
			wenn weil als auch noch schon nur sehr mehr immer wieder jetzt hier dort dann doch mal ja nein nichts
			etwas alle alles jemand niemand bitte danke hallo guten tag morgen abend gibt geht gehen macht machen
			heute gestern leider gerne gern eigentlich trotzdem nun dieses dieser diese diesem diesen jede jeden
			jeder jedes viele vielen wieviel sowie deshalb damit oben unten drin drauf hin nicht's gibts geht's`),
		Words: words(`passwort kennwort vergessen zurücksetzen zurückgesetzt gesperrt konto geändert ändern
			abgelaufen installieren installiere einrichten richte verbinden verbinde verbindung anmelden melde
			funktioniert funktionieren geht kaputt drucker druckt drucken gedruckt neues neuen neue neuer alt alte
			bekomme bekommen brauche brauchen finde finden suche kaufen bestellen bestellung bestellt lieferung
			liefert liefern versand rücksendung zurückgeben zurückschicken umtauschen geld größe passt passen
			zahlen bezahlen rechnung garantie frage fehler fehlermeldung zugriff handy rechner bildschirm
			laufwerk ordner datei gelöscht wiederherstellen mitarbeiter kollege kollegin firma unternehmen
			arbeit arbeiten tun kommt kommen sagt zeigt meldet hängt langsam schnell wasserdicht wasserdichte
			jacke jacken schuh schuhe bindung bindungen helm brille kosten kostet teuer günstig preis wiegt
			zuhause hause büro erkannt gestohlen verloren liegen lassen gekauft angekommen zurück
			lange dauert wochen woche tage stunden urlaub gehalt besprechung raum nachricht nutzen verwenden
			fahren piste gelände hilfe anfänger fortgeschritten erfahren tour touren skifahren stimmt richtig falsch`),
		Letters:  "äöüß",
		Suffixes: []string{"ung", "ungen", "keit", "heit", "lich", "chen", "isch", "ieren", "iert", "igen", "tz", "schaft", "nis", "weise", "en"},
		Infixes:  []string{"sch", "tz", "ei", "ie", "eu", "pf", "chs", "cht", "zw"},
	},
	"en": {
		Code: "en",
		Function: words(`the a and or but not no nor i me my mine myself you your yours yourself he him his she her hers
			it its itself we us our ours they them their theirs is are were be been being do does did done doing
			don't doesn't didn't dont doesnt didnt can can't cannot cant could couldn't should shouldn't would
			wouldn't have has had haven't hasn't having how what why when where which who whom whose this that these
			those there here of to for from with on at by about into onto after before up down out off over again
			if then than just still please thanks thank hello any some every each need needs want wants keep
			it's i'm i've i'll i'd ive isn't aren't won't wasn't weren't you're you've let's there's what's
			anyone someone something anything nothing everything yet already too very much many more most`),
		Words: words(`forgot forgotten reset password passwords locked account expired changed change install
			installed setup set connect connected connection sign log login working work works broken printer print
			printing printed new old get got getting need help find buy order ordered delivery shipping ship return
			returns refund exchange money size fit fits pay invoice warranty question error access phone
			computer screen drive folder file deleted restore employee colleague company leave leaving job day days
			week weeks long takes take come comes says shows stuck slow waterproof jacket jackets shoe shoes
			boot boots binding bindings helmet goggles cost costs price cheap expensive weigh weighs home office
			stolen lost left bought arrived back room message use using tried trying under without
			which compatible between level beginner expert slope slopes off-piste touring lunch book`),
		Suffixes: []string{"ing", "tion", "tions", "ly", "ed", "ness", "ment", "ful", "less", "able", "ous", "'s", "'t", "y", "s"},
		Infixes:  []string{"th", "wh", "ou", "ea", "oo", "ay", "ow", "igh"},
	},
}

func words(s string) []string {
	var out []string
	w := []rune{}
	for _, r := range s + " " {
		if r == ' ' || r == '\n' || r == '\t' {
			if len(w) > 0 {
				out = append(out, string(w))
				w = w[:0]
			}
			continue
		}
		w = append(w, r)
	}
	return out
}
