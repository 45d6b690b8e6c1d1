"""Held-back paraphrases: how reporters write these stories, kept out of rule tuning.

Each case is a short lede in a different outlet's style; the matcher must label it exactly.
"""

from __future__ import annotations

import pytest

from crawler.matching import Document, Matcher, load_matcher

CA = "courthouse_arrest"
SD = "sanctuary_dispute"

CASES: list[tuple[str, str, str, set[str]]] = [
    (
        "ap-courthouse",
        "Immigration agents detain man after hearing at Denver courthouse",
        "DENVER (AP) — Federal immigration agents took a man into custody Tuesday moments after "
        "he left a courtroom at the Lindsey-Flanigan Courthouse, where he had appeared on a "
        "misdemeanor traffic charge, his attorney said. Video posted online shows two "
        "plainclothes officers handcuffing him in a hallway.",
        {CA},
    ),
    (
        "the-city",
        "ICE Nabs Asylum Seekers After Hearings at 26 Federal Plaza",
        "Officers with Immigration and Customs Enforcement arrested at least a dozen people on "
        "Thursday as they walked out of immigration court at 26 Federal Plaza, according to "
        "lawyers and court watchers who saw them led away.",
        {CA},
    ),
    (
        "gothamist",
        "Masked agents grab a father outside Brooklyn court",
        "A Venezuelan father was apprehended by masked federal agents on the steps of Brooklyn "
        "Criminal Court on Monday, advocates said. He had come to court to answer a summons. "
        "Immigration and Customs Enforcement later confirmed he was in its custody.",
        {CA},
    ),
    (
        "tv-tipoff",
        "Sheriff's office gave ICE inmate's court date, records show",
        "Jail staff emailed ICE a defendant's upcoming court date, and agents were waiting for "
        "him at the county courthouse when the hearing ended, according to records obtained by "
        "the station. The county's own policy limits cooperation with federal immigration "
        "authorities, and commissioners said they would demand an investigation.",
        {CA, SD},
    ),
    (
        "judge-bars",
        "Chief judge bars civil immigration arrests inside state courthouses",
        "The state's chief judge issued an order Friday prohibiting ICE officers from making "
        "civil arrests inside courthouses without a judicial warrant, after defense lawyers "
        "said immigrants were skipping court dates out of fear.",
        {CA},
    ),
    (
        "el-diario",
        "Arrestan a inmigrante a la salida de la corte en Manhattan",
        "Agentes de ICE arrestaron el martes a un inmigrante ecuatoriano cuando salía de una "
        "audiencia en la corte de inmigración del 26 Federal Plaza, según su abogada.",
        {CA},
    ),
    (
        "univision-sanctuary",
        "Trump amenaza con recortar fondos federales a las ciudades santuario",
        "El presidente Donald Trump amenazó el lunes con retirar los fondos federales a las "
        "ciudades santuario que se niegan a cooperar con ICE, y el alcalde de Chicago respondió "
        "que la ciudad defenderá sus políticas en los tribunales.",
        {SD},
    ),
    (
        "doj-sues",
        "Justice Department sues Illinois over sanctuary laws",
        "The Justice Department filed a lawsuit Thursday against Illinois, Chicago and Cook "
        "County, arguing that their sanctuary policies illegally obstruct federal immigration "
        "enforcement. State officials vowed to fight the suit.",
        {SD},
    ),
    (
        "texas-tribune",
        "Texas law forces sheriffs to honor ICE detainers",
        "A new state law requires every county jail to honor detainer requests from U.S. "
        "Immigration and Customs Enforcement and bans local policies that limit cooperation "
        "with federal immigration authorities. Sheriffs who refuse could face removal from "
        "office.",
        {SD},
    ),
    (
        "287g-vote",
        "County commissioners vote to end 287(g) agreement with ICE",
        "Commissioners voted 4-1 on Tuesday to terminate the county's 287(g) agreement, which "
        "let jail deputies question inmates about their immigration status. The sheriff said "
        "he disagreed with the decision.",
        {SD},
    ),
    (
        "byrne-jag",
        "Judge blocks DOJ from withholding police grants over immigration conditions",
        "A federal judge ruled that the Justice Department cannot withhold Byrne JAG grants "
        "from cities that decline to give immigration agents access to local jails.",
        {SD},
    ),
    (
        "detainer-refusal",
        "ICE says county released man despite detainer",
        "Immigration and Customs Enforcement accused Santa Clara County of releasing a man "
        "from jail without honoring a detainer request, the latest clash over the county's "
        "sanctuary policy.",
        {SD},
    ),
    (
        "marshall-both",
        "In a sanctuary city, courthouse arrests continue",
        "Even in a sanctuary city, ICE officers have kept arresting immigrants at the "
        "courthouse, public defenders say, because court clerks share hearing dates with the "
        "agency. The mayor called the practice a violation of the city's sanctuary ordinance.",
        {CA, SD},
    ),
    (
        "ice-storm",
        "ICE STORM WARNING ISSUED FOR COUNTY",
        "Forecasters warned of freezing rain and black ice on roads Tuesday night. The county "
        "courthouse will open two hours late, officials said.",
        set(),
    ),
    (
        "hockey",
        "Rangers on ice: arrest of fan outside arena",
        "Police arrested a fan outside the arena after Saturday's hockey game; he was arraigned "
        "in criminal court on Sunday.",
        set(),
    ),
    (
        "ice-futures",
        "Brent rises on ICE futures as traders eye OPEC",
        "Brent crude futures on ICE rose 2% after the Intercontinental Exchange reported "
        "record volumes. Courthouse records in a separate case were unsealed.",
        set(),
    ),
    (
        "wildlife",
        "Wildlife sanctuary sues county over new road",
        "A wildlife sanctuary for injured birds sued the county on Monday, saying a planned "
        "highway would cut through its wetlands.",
        set(),
    ),
    (
        "second-amendment",
        "County declares itself a Second Amendment sanctuary",
        "Supervisors voted to declare the county a Second Amendment sanctuary, refusing to "
        "enforce new state gun laws they call unconstitutional.",
        set(),
    ),
    (
        "church",
        "Mother lives in church sanctuary to avoid deportation",
        "For eight months she has lived inside the church, where the congregation offered her "
        "sanctuary after an immigration judge ordered her deported.",
        set(),
    ),
    (
        "home-raid",
        "ICE agents arrest father outside his home in Queens",
        "Immigration agents arrested a father of three outside his home early Tuesday as he "
        "left for work, neighbors said. His next immigration court date is in June.",
        set(),
    ),
    (
        "courthouse-trial",
        "Jury selection begins in courthouse shooting trial",
        "Jury selection began Monday at the county courthouse in the trial of a man accused "
        "of shooting a bailiff. He was arrested in the courtroom after the 2022 attack.",
        set(),
    ),
    (
        "visa-backlog",
        "Immigration court backlog tops 3 million cases",
        "The backlog in the nation's immigration courts has passed 3 million cases, according "
        "to new data, and judges say asylum hearings are being scheduled into 2029.",
        set(),
    ),
    (
        "detention-conditions",
        "Detainees describe crowded cells at ICE detention center",
        "People held at the ICE detention center in Batavia described crowded cells and "
        "little access to lawyers, according to a report released Thursday.",
        set(),
    ),
    (
        "oregon",
        "Oregon chief justice bans ICE arrests at state courthouses",
        "SALEM, Ore. — Oregon's chief justice on Thursday adopted a rule barring immigration "
        "officers from arresting people in or near state courthouses without a judicial "
        "warrant, following complaints from defense lawyers.",
        {CA},
    ),
    (
        "hillsboro",
        "Man picked up by ICE after traffic court appearance",
        "A Hillsboro man was picked up by plainclothes ICE officers in the lobby of the "
        "Washington County Courthouse minutes after paying a traffic ticket, his wife said "
        "Friday.",
        {CA},
    ),
    (
        "waiting",
        "'They were waiting for him'",
        "Family members say two ICE agents were waiting in the hallway when Luis left his "
        "hearing at the Bronx Hall of Justice on Wednesday. The agents handcuffed him and drove"
        " away in an unmarked car.",
        {CA},
    ),
    (
        "walkout",
        "Public defenders walk out over ICE arrests at courthouse",
        "Hundreds of Legal Aid lawyers walked out of Brooklyn courtrooms on Thursday to protest"
        " the arrest of a client by immigration agents inside the courthouse earlier in the "
        "week.",
        {CA},
    ),
    (
        "dugan",
        "Milwaukee judge arrested, accused of helping man evade immigration agents",
        "The FBI arrested Milwaukee County Circuit Judge Hannah Dugan on Friday, accusing her "
        "of obstructing federal immigration agents who had come to her courtroom to detain a "
        "Mexican man facing removal.",
        {CA},
    ),
    (
        "fl-287g",
        "All 67 Florida sheriffs sign 287(g) agreements under new law",
        "Every sheriff in Florida has now signed a 287(g) agreement with Immigration and "
        "Customs Enforcement, as required by a law passed this year, state officials said.",
        {SD},
    ),
    (
        "oc-join",
        "Orange County supervisors join lawsuit against California sanctuary law",
        "The Orange County Board of Supervisors voted 3-2 to join the Trump administration's "
        "lawsuit challenging SB 54, California's sanctuary state law, which limits cooperation "
        "between local police and federal immigration agents.",
        {SD},
    ),
    (
        "nj-directive",
        "Appeals court upholds New Jersey's Immigrant Trust Directive",
        "A federal appeals court on Monday upheld New Jersey's Immigrant Trust Directive, "
        "rejecting a challenge by two counties that argued the policy limiting police "
        "cooperation with ICE was preempted by federal law.",
        {SD},
    ),
    (
        "es-juez",
        "Juez prohíbe a ICE hacer arrestos en cortes de Nueva York",
        "Un juez federal prohibió el martes que agentes de ICE realicen arrestos civiles en los"
        " tribunales del estado de Nueva York, tras una demanda presentada por fiscales de "
        "distrito.",
        {CA},
    ),
    (
        "es-harris",
        "Condado rechaza cooperar con ICE y el gobernador amenaza con sanciones",
        "El comisionado del condado anunció que la cárcel dejará de cumplir las solicitudes de "
        "detención de ICE, y el gobernador amenazó con quitarle fondos estatales al condado.",
        {SD},
    ),
    (
        "testify",
        "ICE agent testifies in smuggling trial",
        "An ICE agent testified Tuesday in federal court in the trial of a man accused of "
        "smuggling migrants, describing how he arrested the defendant at a border checkpoint.",
        set(),
    ),
    (
        "natz",
        "200 become citizens at federal courthouse ceremony",
        "Two hundred immigrants from 45 countries took the oath of citizenship Friday at the "
        "federal courthouse in downtown Tampa.",
        set(),
    ),
    (
        "protective-order",
        "Man arrested at courthouse after violating protective order",
        "Deputies arrested a man at the county courthouse Monday after he approached his ex-"
        "wife in violation of a protective order, the sheriff's office said.",
        set(),
    ),
    (
        "farm-sanctuary",
        "Sanctuary for rescued farm animals opens to visitors",
        "A sanctuary for rescued farm animals opened its gates to visitors on Saturday, "
        "offering tours of its barns.",
        set(),
    ),
    (
        "ice-cars",
        "Sales of ICE cars fall as EVs gain",
        "Sales of ICE cars fell 8% in the quarter as buyers turned to hybrids and EVs, the "
        "dealers association said.",
        set(),
    ),
    (
        "daca",
        "Judge rules DACA rule unlawful",
        "A federal judge in Texas ruled Friday that the DACA program is unlawful, though "
        "current recipients may keep renewing for now; a court hearing is set for June.",
        set(),
    ),
    (
        "meatpacking",
        "ICE raids meatpacking plant, detains 80 workers",
        "Immigration agents raided a meatpacking plant in Nebraska on Tuesday and detained "
        "about 80 workers, federal officials said.",
        set(),
    ),
    (
        "khalil",
        "Immigration judge denies bond for detained activist",
        "An immigration judge denied bond on Tuesday for the activist, who was detained by ICE "
        "in March; his lawyers said they would appeal.",
        set(),
    ),
    (
        "trust-mayor",
        "Mayor signs order keeping ICE off city property",
        "The mayor signed an executive order barring ICE agents from city property without a "
        "warrant, drawing threats from the White House to cut federal funding.",
        {SD},
    ),
    (
        "nashville",
        "House panel investigates Nashville mayor over ICE alerts",
        "The House Judiciary Committee opened an investigation into Nashville's mayor, accusing"
        " him of obstructing ICE by publicizing the agency's activity and limiting city "
        "cooperation with immigration enforcement.",
        {SD},
    ),
    (
        "detainee-death",
        "ICE detainee dies in custody; family sues",
        "A man held at an ICE detention center in Georgia died in custody last week, and his "
        "family filed a wrongful death lawsuit in federal court on Monday, saying guards "
        "ignored his pleas for medical help.",
        set(),
    ),
    (
        "student-release",
        "Judge orders release of student arrested on street by ICE",
        "A federal judge ordered the release of a graduate student who was arrested by masked "
        "ICE agents on a street near her apartment in March, ruling that her detention violated"
        " her free speech rights. The judge said at a hearing that the government had offered "
        "no evidence.",
        set(),
    ),
    (
        "hearings-online",
        "Immigration court hearings move online",
        "The immigration court in Newark will hold most master calendar hearings by video "
        "starting next month, the Executive Office for Immigration Review said.",
        set(),
    ),
    (
        "threat-judge",
        "Man arrested at courthouse after threatening judge",
        "Court officers arrested a man inside the Bergen County Courthouse on Tuesday after he "
        "threatened a judge during a custody hearing, prosecutors said.",
        set(),
    ),
    (
        "jail-ends-detainers",
        "County jail stops honoring ICE detainers after lawsuit",
        "The county jail will no longer hold inmates on ICE detainer requests after a federal "
        "lawsuit argued the practice violated the Fourth Amendment, the sheriff announced. "
        "Immigration and Customs Enforcement criticized the decision.",
        {SD},
    ),
    (
        "gov-bans",
        "Governor signs bill banning sanctuary cities",
        "The governor signed a bill Tuesday that bans sanctuary cities and requires local jails"
        " to cooperate with federal immigration authorities. Democrats said the law will make "
        "immigrants afraid to call police.",
        {SD},
    ),
    (
        "sheriff-refuses",
        "Sheriff refuses ICE detainers, drawing DHS criticism",
        "The sheriff said his office will not honor ICE detainers without a judicial warrant. "
        "The Department of Homeland Security called the policy dangerous.",
        {SD},
    ),
    (
        "ct-testified",
        "ICE arrests woman at courthouse after she testified",
        "A woman who had just testified against her abusive partner was arrested by ICE "
        "officers in the lobby of the Stamford courthouse, her advocate said Thursday.",
        {CA},
    ),
    (
        "chill",
        "Courthouse arrests by ICE chill victims, prosecutors say",
        "Prosecutors say immigration arrests at courthouses are scaring crime victims and "
        "witnesses away from court. Several district attorneys have asked ICE to stop arresting"
        " people at state courthouses.",
        {CA},
    ),
    (
        "es-familia",
        "Agentes de inmigración detienen a padre frente al tribunal de familia",
        "Agentes de inmigración detuvieron el jueves a un padre guatemalteco frente al tribunal"
        " de familia de Newark, donde acababa de asistir a una audiencia de custodia.",
        {CA},
    ),
    (
        "es-la",
        "Alcaldesa de Los Ángeles rechaza cooperar con ICE tras amenazas",
        "La alcaldesa de Los Ángeles reiteró que la ciudad no cooperará con ICE en operativos "
        "migratorios, luego de que el gobierno de Trump amenazara con recortar fondos federales"
        " a las ciudades santuario.",
        {SD},
    ),
    (
        "council-votes",
        "City council votes to become sanctuary city amid Trump pressure",
        "The city council voted 5-2 to declare the city a sanctuary city, limiting police "
        "cooperation with ICE despite threats from the Trump administration to cut grants.",
        {SD},
    ),
    (
        "judge-tosses",
        "Judge tosses DOJ lawsuit against Illinois sanctuary law",
        "A federal judge dismissed the Justice Department's lawsuit challenging Illinois' Trust"
        " Act, ruling that the state can decline to help with federal immigration enforcement.",
        {SD},
    ),
    (
        "black-ice",
        "Black ice blamed for pileup near courthouse",
        "Black ice caused a 12-car pileup near the county courthouse Tuesday morning; police "
        "arrested one driver for DUI.",
        set(),
    ),
    (
        "court-wait",
        "Asylum seekers wait months for immigration court dates",
        "Thousands of asylum seekers in Chicago are waiting months for their first immigration "
        "court date, lawyers say, as the backlog grows.",
        set(),
    ),
    (
        "field-office",
        "ICE opens new field office in Boise",
        "Immigration and Customs Enforcement opened a new field office in Boise on Monday, "
        "saying it will speed up arrests and deportations in the region.",
        set(),
    ),
    (
        "judge-deportation",
        "Judge orders deportation",
        "An immigration judge ordered his deportation at a hearing in immigration court on "
        "Monday, and ICE said it would carry out the removal. His lawyers plan to appeal.",
        set(),
    ),
    (
        "tactics-list",
        "ICE arrests rise",
        "ICE has arrested people at homes, workplaces, courthouses and car washes this year, "
        "according to agency data. The agency said arrests rose 40 percent.",
        set(),
    ),
    (
        "declined-comment",
        "Texas court rules on state border arrests",
        "The Texas Supreme Court ruled Friday in a dispute over the state's power to arrest "
        "migrants at the border; ICE declined to comment.",
        set(),
    ),
    (
        "passing-mention",
        "Police arrest bodega robbery suspect",
        "Police arrested a man accused of robbing a bodega in Queens. Mayor Eric Adams, who has "
        "criticized the city's sanctuary laws, praised the officers.",
        set(),
    ),
]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return load_matcher()


@pytest.mark.parametrize(("ident", "title", "text", "labels"), CASES, ids=[c[0] for c in CASES])
def test_paraphrase_labels(
    matcher: Matcher, ident: str, title: str, text: str, labels: set[str]
) -> None:
    got = {r.topic for r in matcher.match(Document(title, text))}
    assert got == labels, ident
